//! Users and permissions: the Users page adds users (with a password or a one-time link),
//! changes what they may do, deactivates them and resets passwords; the server refuses every
//! action a user lacks the permission for, whatever the page shows; the last user manager
//! stays; API tokens get at most their creator's webhook permissions.

use crate::common::*;

const NEW_PASSWORD: &str = "a-long-enough-password";

/// The five permission checkboxes, all ticked but `except`.
fn all_but(except: &str) -> Vec<(&'static str, &'static str)> {
    [
        "create_webhooks",
        "edit_webhooks",
        "delete_webhooks",
        "manage_tokens",
        "manage_users",
    ]
    .into_iter()
    .filter(|p| *p != except)
    .map(|p| (p, "on"))
    .collect()
}

/// Adds a user through the Users page (signed in as a user manager) with a password set now.
async fn add_user_with_password(app: &TestApp, email: &str, name: &str, permissions: &[(&str, &str)]) -> String {
    let mut fields = vec![
        ("email", email),
        ("name", name),
        ("password_mode", "set"),
        ("password", NEW_PASSWORD),
    ];
    fields.extend_from_slice(permissions);
    let r = app.post_form("/users", &fields).await;
    assert_eq!(r.status(), 201, "{}", r.text().await.unwrap_or_default());
    user_id(app, email).await
}

async fn user_id(app: &TestApp, email: &str) -> String {
    sqlx::query_scalar("select id from users where lower(email) = lower($1)")
        .bind(email)
        .fetch_one(&app.pool)
        .await
        .expect("the user exists")
}

/// The set-password link shown once on the page.
fn shown_link(html: &str) -> String {
    html.split("id=\"link-value\">")
        .nth(1)
        .and_then(|r| r.split('<').next())
        .expect("the link is shown")
        .to_string()
}

/// A second browser signed in as `email` with [`NEW_PASSWORD`].
async fn signed_in(app: &TestApp, email: &str) -> TestApp {
    let browser = app.second_browser();
    let r = browser.login(email, NEW_PASSWORD).await;
    assert_eq!(r.status(), 303, "{email} signs in");
    browser
}

async fn count(app: &TestApp, sql: &str, bind: &str) -> i64 {
    sqlx::query_scalar(sql).bind(bind).fetch_one(&app.pool).await.unwrap()
}

#[tokio::test]
async fn a_user_added_with_a_link_sets_a_password_once_and_signs_in_with_what_was_granted() {
    let app = spawn_app().await;
    app.login_admin().await;
    let list = app.get_html("/users").await;
    assert!(list.contains(VIEWER_EMAIL) && list.contains("View only") && list.contains("Admin · everything"));

    let r = app
        .post_form(
            "/users",
            &[
                ("email", "dana.new@frontstreet.example"),
                ("name", "Dana New"),
                ("create_webhooks", "on"),
                ("password_mode", "link"),
            ],
        )
        .await;
    assert_eq!(r.status(), 201);
    assert_eq!(r.headers().get("cache-control").unwrap(), "no-store");
    let link = shown_link(&r.text().await.unwrap());
    let path = link
        .split_once("/set-password/")
        .map(|(_, t)| format!("/set-password/{t}"))
        .unwrap();
    // Stored hashed, and shown once: the user's page does not show it again.
    let token = path.trim_start_matches("/set-password/");
    assert_eq!(
        count(&app, "select count(*) from password_links where token_hash = $1", token).await,
        0
    );
    let id = user_id(&app, "dana.new@frontstreet.example").await;
    assert!(!app.get_html(&format!("/users/{id}")).await.contains(token));
    assert!(app.get_html("/users").await.contains("Invited"));
    // No password yet: nothing signs in.
    let dana = app.second_browser();
    assert_eq!(dana.login("dana.new@frontstreet.example", "").await.status(), 401);

    let page = dana.get_html(&path).await;
    assert!(page.contains("dana.new@frontstreet.example"));
    let csrf = csrf_from(&page).unwrap();
    let set = |password: &'static str, again: &'static str| {
        let (dana, csrf, token) = (&dana, csrf.clone(), token.to_string());
        async move {
            dana.client
                .post(dana.url("/set-password"))
                .form(&[
                    ("csrf_token", csrf.as_str()),
                    ("token", token.as_str()),
                    ("password", password),
                    ("password_again", again),
                ])
                .send()
                .await
                .unwrap()
        }
    };
    let r = set("short", "short").await;
    assert_eq!(r.status(), 422);
    assert!(r.text().await.unwrap().contains("at least 12 characters"));
    let r = set(NEW_PASSWORD, "something-else-entirely").await;
    assert_eq!(r.status(), 422);
    assert!(r.text().await.unwrap().contains("The two passwords differ"));
    let r = set(NEW_PASSWORD, NEW_PASSWORD).await;
    assert_eq!(r.status(), 303);
    assert_eq!(location(&r), "/login");
    // Once only (posted again with this browser's new session's form token).
    assert_eq!(dana.get(&path).await.status(), 404);
    let fresh = csrf_from(&dana.get_html("/login").await).unwrap();
    let r = dana
        .client
        .post(dana.url("/set-password"))
        .form(&[
            ("csrf_token", fresh.as_str()),
            ("token", token),
            ("password", "another-long-password"),
            ("password_again", "another-long-password"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);

    let dana = signed_in(&app, "dana.new@frontstreet.example").await;
    let html = dana.get_html("/webhooks").await;
    assert!(html.contains("id=\"create-webhook\""), "may create");
    assert!(!html.contains("href=\"/users\""), "no Users entry without Manage users");
    assert!(html.contains("Custom access"));
    assert_eq!(dana.get("/webhooks/new/general").await.status(), 200);
    assert_eq!(dana.get("/users").await.status(), 403);
    let list = app.get_html("/users").await;
    assert!(!list.contains("Invited"), "the user has a password now");
}

#[tokio::test]
async fn every_permission_is_enforced_by_the_server_for_a_user_lacking_it() {
    let app = spawn_app().await;
    app.login_admin().await;
    let (product, _) = plain_and_capable_products(&app).await;
    let webhook = insert_webhook(&app, &app.vendor_account_id, &product, "Guarded", true).await;
    let trigger = {
        let r = app
            .post_form(
                "/inbound/new",
                &[
                    ("name", "Guarded trigger"),
                    ("product", product.as_str()),
                    ("object_class", "fulfillment_request"),
                    ("max_wait", "5"),
                ],
            )
            .await;
        assert_eq!(r.status(), 303);
        location(&r).trim_start_matches("/inbound/").to_string()
    };
    let token = app.api_key("Admin's token").await;
    let token_id = token
        .trim_start_matches("ApiKey ")
        .split(':')
        .next()
        .unwrap()
        .to_string();
    let viewer = user_id(&app, VIEWER_EMAIL).await;
    let webhooks = |app: &TestApp| {
        let pool = app.pool.clone();
        async move {
            sqlx::query_scalar::<_, i64>("select count(*) from webhooks")
                .fetch_one(&pool)
                .await
                .unwrap()
        }
    };
    let before = webhooks(&app).await;

    // Create webhooks.
    add_user_with_password(
        &app,
        "no.create@frontstreet.example",
        "No Create",
        &all_but("create_webhooks"),
    )
    .await;
    let user = signed_in(&app, "no.create@frontstreet.example").await;
    assert!(!user.get_html("/webhooks").await.contains("id=\"create-webhook\""));
    for path in ["/webhooks/new", "/webhooks/new/general", "/inbound/new"] {
        assert_eq!(user.get(path).await.status(), 403, "GET {path}");
    }
    let r = user
        .post_form("/webhooks/new/general", &[("name", "x"), ("action", "next")])
        .await;
    assert_eq!(r.status(), 403);
    assert!(r
        .text()
        .await
        .unwrap()
        .contains("Your access does not include “Create webhooks”"));
    let r = user
        .post_form(
            "/inbound/new",
            &[
                ("name", "x"),
                ("product", product.as_str()),
                ("object_class", "fulfillment_request"),
            ],
        )
        .await;
    assert_eq!(r.status(), 403);
    // A token of theirs cannot create either, and they cannot give one more than they have.
    let r = user
        .post_form(
            "/tokens",
            &[("name", "More"), ("access_given", "1"), ("create_webhooks", "on")],
        )
        .await;
    assert_eq!(r.status(), 422);
    assert!(r.text().await.unwrap().contains("at most your own permissions"));
    let their_token = user.api_key("Their token").await;
    let r = user
        .client
        .post(user.url("/public/v1/notifications/webhooks"))
        .header("authorization", &their_token)
        .json(
            &serde_json::json!({"label": "x", "external_url": "https://h.example.com/",
                                  "object_class": "fulfillment_request", "product_id": product}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    let body: serde_json::Value = r.json().await.unwrap();
    assert_eq!(body["error_code"], "AUTH_002");
    assert_eq!(webhooks(&app).await, before, "nothing was created");
    let r = user
        .client
        .get(user.url("/public/v1/notifications/webhooks"))
        .header("authorization", &their_token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "the token still reads");

    // Edit webhooks.
    add_user_with_password(
        &app,
        "no.edit@frontstreet.example",
        "No Edit",
        &all_but("edit_webhooks"),
    )
    .await;
    let user = signed_in(&app, "no.edit@frontstreet.example").await;
    let details = user.get_html(&format!("/webhooks/{webhook}")).await;
    assert!(!details.contains("id=\"trigger-now\"") && !details.contains("id=\"edit-webhook\""));
    assert!(details.contains("Delete…"), "may still delete");
    assert_eq!(
        user.get(&format!("/webhooks/{webhook}/edit/general")).await.status(),
        403
    );
    assert_eq!(
        user.get(&format!("/webhooks/{webhook}/http?reveal=1")).await.status(),
        403
    );
    let http = user.get_html(&format!("/webhooks/{webhook}/http")).await;
    assert!(!http.contains(WEBHOOK_SECRET), "the secret never reaches them");
    for (path, form) in [
        (format!("/webhooks/{webhook}/disable"), vec![]),
        (format!("/webhooks/{webhook}/trigger"), vec![]),
        (format!("/webhooks/{webhook}/ping"), vec![]),
        (
            format!("/webhooks/{webhook}/edit/general"),
            vec![("name", "Hijacked"), ("action", "save")],
        ),
        (format!("/inbound/{trigger}/disable"), vec![]),
        (format!("/inbound/{trigger}/keys"), vec![("label", "k"), ("key", "")]),
    ] {
        assert_eq!(user.post_form(&path, &form).await.status(), 403, "POST {path}");
    }
    let (label, active): (String, bool) = sqlx::query_as("select label, active from webhooks where id = $1")
        .bind(&webhook)
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!((label.as_str(), active), ("Guarded", true));
    assert_eq!(
        count(
            &app,
            "select count(*) from webhook_triggers where webhook_id = $1",
            &webhook
        )
        .await,
        0
    );
    assert_eq!(
        count(
            &app,
            "select count(*) from inbound_trigger_keys where trigger_id = $1",
            &trigger
        )
        .await,
        0
    );

    // Delete webhooks.
    add_user_with_password(
        &app,
        "no.delete@frontstreet.example",
        "No Delete",
        &all_but("delete_webhooks"),
    )
    .await;
    let user = signed_in(&app, "no.delete@frontstreet.example").await;
    let details = user.get_html(&format!("/webhooks/{webhook}")).await;
    assert!(details.contains("id=\"trigger-now\"") && !details.contains("Delete…"));
    assert_eq!(user.get(&format!("/webhooks/{webhook}/delete")).await.status(), 403);
    assert_eq!(
        user.post_form(&format!("/webhooks/{webhook}/delete"), &[])
            .await
            .status(),
        403
    );
    assert_eq!(
        user.post_form(&format!("/inbound/{trigger}/delete"), &[])
            .await
            .status(),
        403
    );
    assert_eq!(
        count(&app, "select count(*) from webhooks where id = $1", &webhook).await,
        1
    );
    assert_eq!(
        count(&app, "select count(*) from inbound_triggers where id = $1", &trigger).await,
        1
    );

    // Manage API tokens.
    add_user_with_password(
        &app,
        "no.tokens@frontstreet.example",
        "No Tokens",
        &all_but("manage_tokens"),
    )
    .await;
    let user = signed_in(&app, "no.tokens@frontstreet.example").await;
    assert!(!user.get_html("/tokens").await.contains("id=\"create-token\""));
    assert_eq!(user.post_form("/tokens", &[("name", "Nope")]).await.status(), 403);
    assert_eq!(
        user.post_form(&format!("/tokens/{token_id}/revoke"), &[])
            .await
            .status(),
        403
    );
    assert_eq!(
        count(
            &app,
            "select count(*) from api_tokens where revoked_at is null and id = $1",
            &token_id
        )
        .await,
        1
    );

    // Manage users.
    add_user_with_password(
        &app,
        "no.users@frontstreet.example",
        "No Users",
        &all_but("manage_users"),
    )
    .await;
    let user = signed_in(&app, "no.users@frontstreet.example").await;
    assert!(!user.get_html("/webhooks").await.contains("href=\"/users\""));
    let viewer_page = format!("/users/{viewer}");
    for path in ["/users", "/users/new", viewer_page.as_str()] {
        assert_eq!(user.get(path).await.status(), 403, "GET {path}");
    }
    let users_before = count(
        &app,
        "select count(*) from users where account_id = $1",
        &app.vendor_account_id,
    )
    .await;
    for (path, form) in [
        (
            "/users".to_string(),
            vec![
                ("email", "x@frontstreet.example"),
                ("name", "X"),
                ("manage_users", "on"),
            ],
        ),
        (
            format!("/users/{viewer}"),
            vec![("email", VIEWER_EMAIL), ("name", "V"), ("manage_users", "on")],
        ),
        (format!("/users/{viewer}/deactivate"), vec![]),
        (format!("/users/{viewer}/password"), vec![("password_mode", "link")]),
    ] {
        assert_eq!(user.post_form(&path, &form).await.status(), 403, "POST {path}");
    }
    assert_eq!(
        count(
            &app,
            "select count(*) from users where account_id = $1",
            &app.vendor_account_id
        )
        .await,
        users_before
    );
    let (manages, deactivated): (bool, bool) =
        sqlx::query_as("select can_manage_users, deactivated_at is not null from users where id = $1")
            .bind(&viewer)
            .fetch_one(&app.pool)
            .await
            .unwrap();
    assert!(!manages && !deactivated, "the viewer is unchanged");
}

#[tokio::test]
async fn deactivating_a_user_ends_their_sessions_at_once_and_refuses_sign_in() {
    let app = spawn_app().await;
    app.login_admin().await;
    let id = add_user_with_password(
        &app,
        "leaving@frontstreet.example",
        "Leaving Soon",
        &[("edit_webhooks", "on")],
    )
    .await;
    let leaving = signed_in(&app, "leaving@frontstreet.example").await;
    let other_device = signed_in(&app, "leaving@frontstreet.example").await;
    assert_eq!(leaving.get("/webhooks").await.status(), 200);

    let r = app.post_form(&format!("/users/{id}/deactivate"), &[]).await;
    assert_eq!(r.status(), 303);
    let page = app.get_html(&format!("/users/{id}")).await;
    assert!(page.contains("is deactivated") && page.contains("Reactivate"));
    for browser in [&leaving, &other_device] {
        let r = browser.get("/webhooks").await;
        assert_eq!(r.status(), 303);
        assert!(location(&r).starts_with("/login"), "signed out at once");
    }
    let needle = format!("\"user_id\":\"{id}\"");
    assert_eq!(
        count(
            &app,
            "select count(*) from sessions where strpos(data, $1) > 0",
            &needle
        )
        .await,
        0,
        "their sessions are gone"
    );
    let r = leaving.login("leaving@frontstreet.example", NEW_PASSWORD).await;
    assert_eq!(r.status(), 403);
    assert!(r.text().await.unwrap().contains("This user is deactivated"));
    let r = leaving.login("leaving@frontstreet.example", "not-the-password").await;
    assert_eq!(r.status(), 401, "a wrong password learns nothing");
    assert!(app.get_html("/users").await.contains("Deactivated"));

    assert_eq!(
        app.post_form(&format!("/users/{id}/reactivate"), &[]).await.status(),
        303
    );
    assert_eq!(
        leaving
            .login("leaving@frontstreet.example", NEW_PASSWORD)
            .await
            .status(),
        303
    );
}

#[tokio::test]
async fn the_last_user_manager_keeps_the_right_and_nobody_deactivates_themselves() {
    let app = spawn_app().await;
    app.login_admin().await;
    let admin = user_id(&app, ADMIN_EMAIL).await;
    // The only user manager of the vendor account cannot give the right up.
    let mine = [
        ("email", ADMIN_EMAIL),
        ("name", "Robert Balboa"),
        ("create_webhooks", "on"),
        ("edit_webhooks", "on"),
    ];
    let r = app.post_form(&format!("/users/{admin}"), &mine).await;
    assert_eq!(r.status(), 409);
    assert!(r.text().await.unwrap().contains("must keep “Manage users”"));
    let r = app.post_form(&format!("/users/{admin}/deactivate"), &[]).await;
    assert_eq!(r.status(), 403);
    assert!(r.text().await.unwrap().contains("cannot deactivate yourself"));
    let (manages, active): (bool, bool) =
        sqlx::query_as("select can_manage_users, deactivated_at is null from users where id = $1")
            .bind(&admin)
            .fetch_one(&app.pool)
            .await
            .unwrap();
    assert!(manages && active);

    // With a second manager it may; then that one is the last.
    let second = add_user_with_password(&app, "second.admin@frontstreet.example", "Second Admin", &all_but("")).await;
    let r = app.post_form(&format!("/users/{admin}"), &mine).await;
    assert_eq!(r.status(), 303);
    assert_eq!(location(&r), "/webhooks", "no Users page for them any more");
    assert_eq!(app.get("/users").await.status(), 403);
    let second_browser = signed_in(&app, "second.admin@frontstreet.example").await;
    let r = second_browser
        .post_form(
            &format!("/users/{second}"),
            &[("email", "second.admin@frontstreet.example"), ("name", "Second Admin")],
        )
        .await;
    assert_eq!(r.status(), 409);
    assert_eq!(
        count(
            &app,
            "select count(*) from users where account_id = $1 and can_manage_users and deactivated_at is null",
            &app.vendor_account_id
        )
        .await,
        1
    );
}

#[tokio::test]
async fn a_password_reset_signs_the_user_out_and_the_old_password_stops_working() {
    let app = spawn_app().await;
    app.login_admin().await;
    let id = add_user_with_password(&app, "forgetful@frontstreet.example", "Forgetful", &[]).await;
    let user = signed_in(&app, "forgetful@frontstreet.example").await;

    let r = app
        .post_form(&format!("/users/{id}/password"), &[("password_mode", "link")])
        .await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers().get("cache-control").unwrap(), "no-store");
    let link = shown_link(&r.text().await.unwrap());
    assert_eq!(user.get("/webhooks").await.status(), 303, "signed out");
    assert_eq!(
        user.login("forgetful@frontstreet.example", NEW_PASSWORD).await.status(),
        401
    );
    let path = format!("/set-password/{}", link.rsplit('/').next().unwrap());
    assert_eq!(user.get(&path).await.status(), 200);

    // A password set directly instead replaces the link (and works at once).
    let r = app
        .post_form(
            &format!("/users/{id}/password"),
            &[("password_mode", "set"), ("password", "short")],
        )
        .await;
    assert_eq!(r.status(), 422, "a weak password is refused");
    let r = app
        .post_form(
            &format!("/users/{id}/password"),
            &[("password_mode", "set"), ("password", "the-replacement-password")],
        )
        .await;
    assert_eq!(r.status(), 200);
    assert_eq!(user.get(&path).await.status(), 404, "the unused link stopped working");
    assert_eq!(
        user.login("forgetful@frontstreet.example", "the-replacement-password")
            .await
            .status(),
        303
    );
    // A new link replaces an unused one.
    let r = app
        .post_form(&format!("/users/{id}/password"), &[("password_mode", "link")])
        .await;
    let newer = shown_link(&r.text().await.unwrap());
    let newer_path = format!("/set-password/{}", newer.rsplit('/').next().unwrap());
    let r = app
        .post_form(&format!("/users/{id}/password"), &[("password_mode", "link")])
        .await;
    let newest = shown_link(&r.text().await.unwrap());
    assert_ne!(newer, newest);
    assert_eq!(user.get(&newer_path).await.status(), 404, "replaced by the newest");
}

#[tokio::test]
async fn the_users_form_refuses_bad_input_and_other_accounts_users_are_not_found() {
    let app = spawn_app().await;
    app.login_admin().await;
    let before = count(
        &app,
        "select count(*) from users where account_id = $1",
        &app.vendor_account_id,
    )
    .await;
    for (fields, message) in [
        (
            vec![("email", "not-an-email"), ("name", "X")],
            "Enter an e-mail address",
        ),
        (vec![("email", "x@frontstreet.example"), ("name", "")], "Enter a name"),
        (
            vec![("email", "x@frontstreet.example"), ("name", "Nul\0name")],
            "Enter a name",
        ),
        (
            vec![("email", VIEWER_EMAIL), ("name", "Copy")],
            "cannot be used: choose another",
        ),
        (
            vec![
                ("email", "x@frontstreet.example"),
                ("name", "X"),
                ("password_mode", "set"),
                ("password", "short"),
            ],
            "at least 12 characters",
        ),
    ] {
        let r = app.post_form("/users", &fields).await;
        assert_eq!(r.status(), 422, "{fields:?}");
        assert!(r.text().await.unwrap().contains(message), "{message}");
    }
    let long = "n".repeat(101);
    let r = app
        .post_form("/users", &[("email", "x@frontstreet.example"), ("name", &long)])
        .await;
    assert_eq!(r.status(), 422);
    assert_eq!(
        count(
            &app,
            "select count(*) from users where account_id = $1",
            &app.vendor_account_id
        )
        .await,
        before
    );

    // The distributor's admin manages their own users only.
    let distributor = app.second_browser();
    distributor.login_distributor().await;
    let vendor_user = user_id(&app, VIEWER_EMAIL).await;
    assert_eq!(distributor.get(&format!("/users/{vendor_user}")).await.status(), 404);
    assert_eq!(
        distributor
            .post_form(&format!("/users/{vendor_user}/deactivate"), &[])
            .await
            .status(),
        404
    );
    assert_eq!(distributor.get("/users/UR-not-an-id").await.status(), 404);
    assert!(!distributor.get_html("/users").await.contains(VIEWER_EMAIL));
}

#[tokio::test]
async fn two_user_managers_demoting_each_other_at_once_leave_one_of_them() {
    let app = spawn_app().await;
    app.login_admin().await;
    let admin = user_id(&app, ADMIN_EMAIL).await;
    let second = add_user_with_password(&app, "twin@frontstreet.example", "Twin Admin", &all_but("")).await;
    let twin = signed_in(&app, "twin@frontstreet.example").await;
    let demote_admin = [("email", ADMIN_EMAIL), ("name", "Robert Balboa")];
    let demote_twin = [("email", "twin@frontstreet.example"), ("name", "Twin Admin")];
    let (twin_page, admin_page) = (format!("/users/{second}"), format!("/users/{admin}"));
    let (a, b) = tokio::join!(
        app.post_form(&twin_page, &demote_twin),
        twin.post_form(&admin_page, &demote_admin),
    );
    let statuses = [a.status().as_u16(), b.status().as_u16()];
    assert!(statuses.contains(&303), "one succeeds: {statuses:?}");
    assert_eq!(
        count(
            &app,
            "select count(*) from users where account_id = $1 and can_manage_users and deactivated_at is null",
            &app.vendor_account_id
        )
        .await,
        1,
        "{statuses:?}"
    );
}

#[tokio::test]
async fn a_token_acts_only_as_far_as_its_creator_still_may_and_stops_with_them() {
    let app = spawn_app().await;
    app.login_admin().await;
    let (product, _) = plain_and_capable_products(&app).await;
    let webhook = insert_webhook(&app, &app.vendor_account_id, &product, "Guarded", true).await;
    let id = add_user_with_password(
        &app,
        "automation@frontstreet.example",
        "Automation",
        &all_but("manage_users"),
    )
    .await;
    let creator = signed_in(&app, "automation@frontstreet.example").await;
    let token = creator.api_key("Automation token").await;
    let api = |method: reqwest::Method, path: String| {
        let (client, url, token) = (creator.client.clone(), creator.url(&path), token.clone());
        async move {
            client
                .request(method, url)
                .header("authorization", token)
                .send()
                .await
                .unwrap()
        }
    };
    let path = format!("/public/v1/notifications/webhooks/{webhook}");
    let read: serde_json::Value = api(reqwest::Method::GET, path.clone()).await.json().await.unwrap();
    assert_eq!(
        read["jwt_secret"], WEBHOOK_SECRET,
        "a token that may edit sees the secret"
    );

    // The creator loses "Edit webhooks" and "Delete webhooks": so does the token.
    let r = app
        .post_form(
            &format!("/users/{id}"),
            &[
                ("email", "automation@frontstreet.example"),
                ("name", "Automation"),
                ("create_webhooks", "on"),
                ("manage_tokens", "on"),
            ],
        )
        .await;
    assert_eq!(r.status(), 303);
    assert_eq!(api(reqwest::Method::DELETE, path.clone()).await.status(), 403);
    let read: serde_json::Value = api(reqwest::Method::GET, path.clone()).await.json().await.unwrap();
    assert_ne!(read["jwt_secret"], WEBHOOK_SECRET, "and no longer sees the secret");
    assert!(read["jwt_secret"].as_str().unwrap().contains("*****"));
    assert_eq!(
        count(&app, "select count(*) from webhooks where id = $1", &webhook).await,
        1
    );

    // Deactivated: the token stops working at all, and works again on reactivation.
    assert_eq!(
        app.post_form(&format!("/users/{id}/deactivate"), &[]).await.status(),
        303
    );
    assert_eq!(api(reqwest::Method::GET, path.clone()).await.status(), 401);
    assert_eq!(
        app.post_form(&format!("/users/{id}/reactivate"), &[]).await.status(),
        303
    );
    assert_eq!(api(reqwest::Method::GET, path).await.status(), 200);
}

#[tokio::test]
async fn an_ended_session_is_not_brought_back_by_a_request_still_running() {
    use tower_sessions::session::{Id, Record};
    use tower_sessions::SessionStore;
    let app = spawn_app().await;
    let store = webhook_portal::auth::store::sessions::PostgresSessions::new(app.pool.clone());
    let mut record = Record {
        id: Id::default(),
        data: Default::default(),
        expiry_date: time::OffsetDateTime::now_utc() + time::Duration::hours(1),
    };
    store.create(&mut record).await.unwrap();
    store.delete(&record.id).await.unwrap();
    // What a request that began before the session ended does when it finishes.
    store.save(&record).await.unwrap();
    assert!(store.load(&record.id).await.unwrap().is_none());
}
