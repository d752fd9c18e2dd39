//! The server-side draft of the wizard: the steps, what was typed, the rules of each step,
//! and where the draft is kept (the session).

use serde::{Deserialize, Serialize};
use tower_sessions::Session;

use crate::auth::CurrentUser;
use crate::error::{AppError, AppResult};
use crate::forms::FormFields;
use crate::webhooks::model::{self, FieldErrors, HttpMethod, WebhookType};
use crate::webhooks::store::Product;

const DRAFT_KEY: &str = "webhook_draft";

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Step {
    General = 1,
    Product = 2,
    Type = 3,
    Http = 4,
    Data = 5,
}

impl Step {
    pub const ALL: [Step; 5] = [Step::General, Step::Product, Step::Type, Step::Http, Step::Data];

    pub fn slug(self) -> &'static str {
        match self {
            Step::General => "general",
            Step::Product => "product",
            Step::Type => "type",
            Step::Http => "http",
            Step::Data => "data",
        }
    }
    pub fn title(self) -> &'static str {
        match self {
            Step::General => "General",
            Step::Product => "Product",
            Step::Type => "Type",
            Step::Http => "HTTP Settings",
            Step::Data => "Additional data",
        }
    }
    pub fn number(self) -> u8 {
        self as u8
    }
    pub(super) fn from_slug(slug: &str) -> Option<Step> {
        Self::ALL.into_iter().find(|s| s.slug() == slug)
    }
    pub(super) fn from_number(n: u8) -> Step {
        Self::ALL.into_iter().find(|s| s.number() == n).unwrap_or(Step::Data)
    }
    pub(super) fn next(self) -> Option<Step> {
        Self::ALL.into_iter().find(|s| s.number() == self.number() + 1)
    }
    pub(super) fn prev(self) -> Option<Step> {
        Self::ALL.into_iter().find(|s| s.number() + 1 == self.number())
    }
    pub fn url(self) -> String {
        format!("/webhooks/new/{}", self.slug())
    }
}

/// Everything typed so far. `completed` is the highest step validated by the server.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Draft {
    pub completed: u8,
    pub name: String,
    pub description: String,
    pub enabled: bool,
    pub product_id: String,
    pub type_code: String,
    pub external_url: String,
    pub jwt_secret: String,
    pub http_method: String,
    pub headers: Vec<(String, String)>,
    pub data: String,
    /// Calls per second, as typed; empty for no limit.
    #[serde(default)]
    pub rate_limit: String,
    /// `json`, `form` or `xml`, as chosen.
    #[serde(default = "json")]
    pub payload_format: String,
    #[serde(default)]
    pub md5_wrap: bool,
    /// A warning about the endpoint found at step 4 (its host does not resolve now).
    #[serde(default)]
    pub endpoint_note: Option<String>,
}

fn json() -> String {
    "json".to_string()
}

impl Default for Draft {
    fn default() -> Self {
        Draft {
            completed: 0,
            name: String::new(),
            description: String::new(),
            enabled: false,
            product_id: String::new(),
            type_code: String::new(),
            external_url: String::new(),
            jwt_secret: model::generate_secret(),
            http_method: "POST".to_string(),
            payload_format: json(),
            md5_wrap: false,
            headers: Vec::new(),
            data: "{}".to_string(),
            rate_limit: String::new(),
            endpoint_note: None,
        }
    }
}

impl Draft {
    pub(super) fn method(&self) -> HttpMethod {
        HttpMethod::parse(&self.http_method).unwrap_or(HttpMethod::Post)
    }

    /// Copies the fields of `step` from the posted form as typed: validation reports an
    /// over-long one with its real length, and the form shows it again. (The form body limit,
    /// `forms::MAX_FORM_BYTES`, bounds what the session can hold.) Fields that only name a
    /// choice are cut short.
    pub(super) fn apply(&mut self, step: Step, form: &FormFields) {
        let take = |s: &str, max: usize| s.chars().take(max + 1).collect::<String>();
        let typed = |s: &str| s.to_string();
        match step {
            Step::General => {
                self.name = typed(form.get("name"));
                self.description = typed(form.get("description"));
                self.enabled = form.checked("enabled");
            }
            Step::Product => {
                if form.has("product_id") {
                    self.product_id = take(form.get("product_id"), 32);
                }
            }
            Step::Type => {
                if form.has("type") {
                    self.type_code = take(form.get("type"), 64);
                }
            }
            Step::Http => {
                self.external_url = typed(form.get("external_url"));
                self.jwt_secret = typed(form.get("jwt_secret"));
                self.http_method = take(form.get("http_method"), 8);
                self.payload_format = take(form.get("payload_format"), 8);
                self.md5_wrap = form.checked("md5_wrap");
                self.rate_limit = take(form.get("rate_limit"), 16);
                self.headers = read_headers(form);
            }
            Step::Data => {
                if form.has("data") {
                    self.data = typed(form.get("data"));
                }
            }
        }
    }
}

/// The HTTP settings' buttons (Regenerate secret, add and remove header rows), shared by the
/// wizard and the edit form; `true` if `action` was one of them.
pub fn apply_http_action(action: &str, secret: &mut String, headers: &mut Vec<(String, String)>) -> bool {
    match action {
        "regenerate_secret" => *secret = model::generate_secret(),
        "add_header" => {
            if headers.len() < model::HEADERS_MAX {
                headers.push((String::new(), String::new()));
            }
        }
        a if a.starts_with("remove_header:") => {
            if let Some(i) = a["remove_header:".len()..]
                .parse::<usize>()
                .ok()
                .filter(|i| *i < headers.len())
            {
                headers.remove(i);
            }
        }
        _ => return false,
    }
    true
}

/// Header rows from `header_name` / `header_value` pairs; fully empty rows are dropped.
pub fn read_headers(form: &FormFields) -> Vec<(String, String)> {
    let names = form.all("header_name");
    let values = form.all("header_value");
    names
        .into_iter()
        .zip(values.into_iter().chain(std::iter::repeat(String::new())))
        .map(|(n, v)| (n.trim().to_string(), v))
        .filter(|(n, v): &(String, String)| !(n.is_empty() && v.is_empty()))
        .take(model::HEADERS_MAX + 1)
        .collect()
}

/// Validates one step against the draft; the product and type rules need the account's products.
pub(super) fn validate(step: Step, draft: &Draft, user: &CurrentUser, products: &[Product]) -> FieldErrors {
    let mut errors = FieldErrors::default();
    match step {
        Step::General => {
            model::validate_name(&draft.name, &mut errors);
            model::validate_description(&draft.description, &mut errors);
        }
        Step::Product => {
            if draft.product_id.is_empty() {
                errors.add("product_id", "Select the product this webhook works with.");
            } else if !products.iter().any(|p| p.id == draft.product_id) {
                errors.add("product_id", "This product is not available to your account.");
            }
        }
        Step::Type => match WebhookType::from_code(&draft.type_code) {
            None if draft.type_code.is_empty() => errors.add("type", "Select a webhook type."),
            None => errors.add("type", "This is not a webhook type."),
            Some(t) => {
                let caps = products
                    .iter()
                    .find(|p| p.id == draft.product_id)
                    .map(|p| p.capabilities.clone())
                    .unwrap_or_default();
                if let Some(reason) = t.unavailable_reason(user.account_kind, &caps) {
                    errors.add("type", format!("{} is not available: {reason}", t.label()));
                }
            }
        },
        Step::Http => {
            model::validate_http(
                &draft.external_url,
                &draft.jwt_secret,
                &draft.http_method,
                &draft.headers,
                &mut errors,
            );
            model::parse_rate_limit(&draft.rate_limit, &mut errors);
            model::parse_payload_format(&draft.payload_format, &mut errors);
        }
        Step::Data => {
            if draft.method().sends_body() {
                model::parse_data(&draft.data, &mut errors);
            }
        }
    }
    errors
}

pub(super) async fn load_draft(session: &Session) -> AppResult<Draft> {
    Ok(session
        .get::<Draft>(DRAFT_KEY)
        .await
        .map_err(|e| AppError::Internal(anyhow::anyhow!("session: {e}")))?
        .unwrap_or_default())
}

pub(super) async fn save_draft(session: &Session, draft: &Draft) -> AppResult<()> {
    session
        .insert(DRAFT_KEY, draft)
        .await
        .map_err(|e| AppError::Internal(anyhow::anyhow!("session: {e}")))
}

pub(super) async fn clear_draft(session: &Session) -> AppResult<()> {
    session
        .remove::<Draft>(DRAFT_KEY)
        .await
        .map_err(|e| AppError::Internal(anyhow::anyhow!("session: {e}")))?;
    Ok(())
}
