//! API tokens: created by admins, shown once, stored hashed, revocable, per account.

use crate::common::*;

#[tokio::test]
async fn an_admin_creates_a_token_sees_it_once_and_revokes_it() {
    let app = spawn_app().await;
    app.login_admin().await;
    let empty = app.get_html("/tokens").await;
    assert!(empty.contains("No API tokens yet"));

    let r = app.post_form("/tokens", &[("name", "Fulfillment handler")]).await;
    assert_eq!(r.status(), 201);
    assert_eq!(r.headers().get("cache-control").unwrap(), "no-store");
    let key = shown_token(&r.text().await.unwrap());
    let (id, secret) = key.split_once(':').unwrap();
    assert!(webhook_portal::ids::has_shape(id, "SU", 3), "{key}");
    assert!(secret.len() >= 40);
    // Stored hashed: the secret is nowhere in the database.
    let stored: String = sqlx::query_scalar("select secret_hash from api_tokens where id = $1")
        .bind(id)
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert!(!stored.contains(secret) && stored.len() == 64);
    // Shown once: the list does not show it again.
    let list = app.get_html("/tokens").await;
    assert!(list.contains("Fulfillment handler") && list.contains(id) && !list.contains(secret));
    assert!(list.contains("Never"), "not used yet");

    // It authenticates, and its use is noted.
    let caller = webhook_portal::tokens::authenticate(&app.pool, &format!("ApiKey {key}"))
        .await
        .unwrap()
        .expect("valid key");
    assert_eq!(caller.account_id, app.vendor_account_id);
    let used: chrono::DateTime<chrono::Utc> = sqlx::query_scalar("select last_used_at from api_tokens where id = $1")
        .bind(id)
        .fetch_one(&app.pool)
        .await
        .unwrap();
    let list = app.get_html("/tokens").await;
    // In the portal's one date style, e.g. "05/18/2021 8:40 AM UTC".
    let shown = webhook_portal::dates::datetime(&used).to_string();
    assert!(
        !list.contains("Never") && list.contains(&shown),
        "last used {shown} shown"
    );
    // Wrong secret, malformed keys, unknown IDs: refused.
    for bad in [
        format!("ApiKey {id}:wrong"),
        "ApiKey nonsense".into(),
        "ApiKey SU-000-000-000:x".into(),
        String::new(),
    ] {
        assert!(
            webhook_portal::tokens::authenticate(&app.pool, &bad)
                .await
                .unwrap()
                .is_none(),
            "{bad}"
        );
    }

    let r = app.post_form(&format!("/tokens/{id}/revoke"), &[]).await;
    assert_eq!(location(&r), "/tokens");
    assert!(app
        .get_html("/tokens")
        .await
        .contains("revoked: requests with it are refused"));
    assert!(
        webhook_portal::tokens::authenticate(&app.pool, &format!("ApiKey {key}"))
            .await
            .unwrap()
            .is_none(),
        "revoked"
    );
}

#[tokio::test]
async fn token_names_are_validated() {
    let app = spawn_app().await;
    app.login_admin().await;
    let r = app.post_form("/tokens", &[("name", "  ")]).await;
    assert_eq!(r.status(), 422);
    assert!(r.text().await.unwrap().contains("Enter a name"));
    let long = "n".repeat(101);
    let r = app.post_form("/tokens", &[("name", &long)]).await;
    assert_eq!(r.status(), 422);
    assert!(r.text().await.unwrap().contains("at most 100 characters"));
    let count: i64 = sqlx::query_scalar("select count(*) from api_tokens")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(count, 0);
}

#[tokio::test]
async fn viewers_cannot_manage_tokens_and_other_accounts_tokens_are_404() {
    let app = spawn_app().await;
    app.login_distributor().await;
    let r = app.post_form("/tokens", &[("name", "Distributor token")]).await;
    let key = shown_token(&r.text().await.unwrap());
    let id = key.split(':').next().unwrap().to_string();
    let vendor_admin = app.second_browser();
    vendor_admin.login_admin().await;
    assert!(!vendor_admin.get_html("/tokens").await.contains("Distributor token"));
    assert_eq!(
        vendor_admin
            .post_form(&format!("/tokens/{id}/revoke"), &[])
            .await
            .status(),
        404
    );
    let caller = webhook_portal::tokens::authenticate(&app.pool, &format!("ApiKey {key}"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(caller.account_id, app.distributor_account_id, "scoped to its account");

    let viewer = app.second_browser();
    viewer.login_viewer().await;
    assert!(!viewer.get_html("/tokens").await.contains("id=\"create-token\""));
    assert_eq!(viewer.post_form("/tokens", &[("name", "Nope")]).await.status(), 403);
}
