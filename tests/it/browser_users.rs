//! A real browser adds a user on the Users page, copies the one-time link, and that user sets
//! a password and signs in with only what was granted.

use crate::common::browser::{click, type_into, wait_for, Browser};
use crate::common::*;
use fantoccini::Locator;

#[tokio::test]
async fn a_user_manager_adds_a_user_who_sets_a_password_through_the_link() {
    let app = spawn_app().await;
    let browser = Browser::start().await;
    let c = &browser.client;
    c.goto(&app.url("/login")).await.unwrap();
    type_into(c, "#email", ADMIN_EMAIL).await;
    type_into(c, "#password", ADMIN_PASSWORD).await;
    click(c, "button[type=submit]").await;
    wait_for(c, "#webhook-table, #empty-state").await;

    click(c, ".sidenav a[href='/users']").await;
    wait_for(c, "#users").await;
    browser.screenshot("users-list").await;
    click(c, "#add-user").await;
    wait_for(c, "#user-form").await;
    // An empty form is refused with the reasons next to the fields.
    click(c, "#save-user").await;
    wait_for(c, "#email-error").await;
    type_into(c, "#email", "sam.support@frontstreet.example").await;
    type_into(c, "#name", "Sam Support").await;
    click(c, "#perm-edit_webhooks").await;
    browser.screenshot("users-add").await;
    click(c, "#save-user").await;
    let link = wait_for(c, "#link-value").await.text().await.unwrap();
    assert!(link.contains("/set-password/"), "{link}");
    browser.screenshot("users-link").await;

    // The new user, in a browser of their own.
    let theirs = Browser::start().await;
    let t = &theirs.client;
    t.goto(&link).await.unwrap();
    type_into(t, "#password", "sams-own-password-1").await;
    type_into(t, "#password_again", "sams-own-password-1").await;
    click(t, "button[type=submit]").await;
    wait_for(t, "form[action='/login']").await;
    type_into(t, "#email", "sam.support@frontstreet.example").await;
    type_into(t, "#password", "sams-own-password-1").await;
    click(t, "button[type=submit]").await;
    wait_for(t, "#webhook-table, #empty-state").await;
    let nav = t.find(Locator::Css(".sidenav")).await.unwrap().text().await.unwrap();
    assert!(!nav.contains("Users"), "{nav}");
    assert!(t.find(Locator::Css("#create-webhook")).await.is_err(), "may not create");
    theirs.close().await;

    // The manager sees them active now, and on a phone too.
    c.goto(&app.url("/users")).await.unwrap();
    let table = wait_for(c, "#users").await.text().await.unwrap();
    assert!(table.contains("Sam Support") && table.contains("Edit"), "{table}");
    browser.screenshot("users-list-three").await;
    c.set_window_size(390, 844).await.unwrap();
    browser.screenshot("users-list-390").await;
    browser.close().await;
}
