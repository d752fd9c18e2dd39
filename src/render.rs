//! Templates become responses one way: rendered, or the error page when they cannot be.
//! Pages in the shell use [`crate::layout::page!`]; everything else (htmx fragments, the
//! pages outside the shell such as sign-in) uses [`html!`].

use askama::Template;
use axum::response::{Html, IntoResponse, Response};

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
