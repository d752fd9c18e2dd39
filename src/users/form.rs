//! The Users page's form as typed: e-mail, name, permissions and how the password is set.

use super::store::Member;
use crate::auth::users as accounts_users;
use crate::auth::{password, Permission, Permissions};
use crate::forms::FormFields;

/// Longest name, in characters.
pub const NAME_MAX: usize = 100;
/// Longest e-mail address (RFC 5321).
pub const EMAIL_MAX: usize = 254;

/// What the user form holds, as typed; the password is never sent back.
#[derive(Default)]
pub(super) struct UserForm {
    pub(super) email: String,
    pub(super) name: String,
    pub(super) permissions: Permissions,
    /// "link" (a one-time set-password link) or "set" (a password typed here).
    pub(super) password_mode: String,
    pub(super) email_error: Option<String>,
    pub(super) name_error: Option<String>,
    pub(super) password_error: Option<String>,
}

impl UserForm {
    /// The form of an existing user, as stored (a reset offers a link first).
    pub(super) fn of(member: &Member) -> UserForm {
        UserForm {
            email: member.email.clone(),
            name: member.name.clone(),
            permissions: member.permissions,
            password_mode: "link".into(),
            ..UserForm::default()
        }
    }

    pub(super) fn read(form: &FormFields) -> UserForm {
        UserForm {
            email: form.get("email").trim().chars().take(EMAIL_MAX + 1).collect(),
            name: form.get("name").trim().chars().take(NAME_MAX + 1).collect(),
            permissions: Permissions::from_form(form, &Permission::ALL),
            password_mode: if form.get("password_mode") == "set" {
                "set"
            } else {
                "link"
            }
            .to_string(),
            ..UserForm::default()
        }
    }

    /// Checks the e-mail and name; true when both are fine.
    pub(super) fn check(&mut self) -> bool {
        self.email_error = if self.email.contains('\0') || !accounts_users::looks_like_email(&self.email) {
            Some("Enter an e-mail address, like dana@example.com.".into())
        } else if self.email.chars().count() > EMAIL_MAX {
            Some(format!("At most {EMAIL_MAX} characters."))
        } else {
            None
        };
        self.name_error = if self.name.is_empty() || self.name.contains('\0') {
            Some("Enter a name, as colleagues know it.".into())
        } else if self.name.chars().count() > NAME_MAX {
            Some(format!("At most {NAME_MAX} characters."))
        } else {
            None
        };
        self.email_error.is_none() && self.name_error.is_none()
    }
}

/// The password a form asks to set (mode "set"), checked; `Ok(None)` for a link.
pub(super) fn typed_password(form: &FormFields, mode: &str) -> Result<Option<String>, String> {
    if mode != "set" {
        return Ok(None);
    }
    let typed = form.get("password");
    password::check_strength(typed).map_err(|e| format!("The password {e}."))?;
    Ok(Some(typed.to_string()))
}
