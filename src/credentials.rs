//! What makes an e-mail address and a new password acceptable: checked by the settings (the
//! first admin), the `user` commands and sign-up alike, so it lives below all of them.

pub const MIN_LENGTH: usize = 12;
pub const MAX_LENGTH: usize = 256;

/// The rule every new password must meet.
pub fn check_strength(password: &str) -> Result<(), String> {
    let chars = password.chars().count();
    if chars < MIN_LENGTH {
        return Err(format!("must be at least {MIN_LENGTH} characters"));
    }
    if chars > MAX_LENGTH {
        return Err(format!("must be at most {MAX_LENGTH} characters"));
    }
    Ok(())
}

pub fn looks_like_email(email: &str) -> bool {
    let email = email.trim();
    email.len() <= 254
        && email.split_once('@').is_some_and(|(local, domain)| {
            !local.is_empty()
                && domain.contains('.')
                && !domain.starts_with('.')
                && !email.contains(char::is_whitespace)
        })
}
