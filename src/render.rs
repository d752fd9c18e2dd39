//! Templates become responses one way: rendered, or the error page when they cannot be.
//! Pages in the shell use [`crate::layout::page!`]; everything else (htmx fragments, the
//! pages outside the shell such as sign-in) uses [`html!`].

use askama::Template;
use axum::response::{Html, IntoResponse, Response};

use crate::db::COUNT_CAP;
use crate::error::AppError;

/// Renders a template as the response, or the error page if it cannot be rendered.
pub fn respond(template: &impl Template) -> Response {
    match template.render() {
        Ok(html) => Html(html).into_response(),
        Err(e) => AppError::from(e).into_response(),
    }
}

/// `impl IntoResponse` for a template outside the page shell: htmx fragments, sign-in.
macro_rules! html {
    ($($template:ty),+ $(,)?) => {$(
        impl axum::response::IntoResponse for $template {
            fn into_response(self) -> axum::response::Response {
                $crate::render::respond(&self)
            }
        }
    )+};
}

pub(crate) use html;

/// A count as people write it: `2,345`, and `10,000+` past [`COUNT_CAP`].
pub fn count(n: impl std::borrow::Borrow<i64>) -> String {
    let n = *n.borrow();
    let mut shown = grouped(n.min(COUNT_CAP));
    if n > COUNT_CAP {
        shown.push('+');
    }
    shown
}

/// A number with its thousands grouped: `1,234,567` (no cap: for exact figures).
pub fn grouped(n: i64) -> String {
    let digits = n.unsigned_abs().to_string();
    let mut grouped = String::new();
    if n < 0 {
        grouped.push('-');
    }
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            grouped.push(',');
        }
        grouped.push(c);
    }
    grouped
}

#[cfg(test)]
mod tests {
    use super::{count, grouped};

    #[test]
    fn counts_read_as_people_write_them() {
        assert_eq!(count(0), "0");
        assert_eq!(count(30), "30");
        assert_eq!(count(2345), "2,345");
        assert_eq!(count(10_000), "10,000");
        assert_eq!(count(10_001), "10,000+");
        assert_eq!(grouped(1_234_567), "1,234,567");
        assert_eq!(grouped(-1200), "-1,200");
    }
}
