//! E-mail through SMTP (`PORTAL_SMTP_URL`), with lettre.

use lettre::message::Mailbox;
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};

use super::store::Outgoing;

pub struct Mailer {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
    public_url: String,
}

impl Mailer {
    /// `smtp://host:port` (plain), `smtps://…` (TLS), `smtp://…?tls=required` (STARTTLS),
    /// with `user:password@` if the server asks for it.
    pub fn new(url: &str, from: &str, public_url: &str) -> anyhow::Result<Mailer> {
        let transport = AsyncSmtpTransport::<Tokio1Executor>::from_url(url)?
            .timeout(Some(std::time::Duration::from_secs(20)))
            .build();
        Ok(Mailer {
            transport,
            from: from.parse()?,
            public_url: public_url.trim_end_matches('/').to_string(),
        })
    }

    /// Sends one notice to its recipients (one message, each in `To`).
    pub async fn send(&self, notice: &Outgoing) -> anyhow::Result<()> {
        let mut message = Message::builder()
            .from(self.from.clone())
            .subject(format!("[{}] {}", notice.account_name, notice.title));
        for to in &notice.recipients {
            message = message.to(to.parse()?);
        }
        let link = match (&notice.webhook_id, notice.kind.as_str()) {
            (Some(id), "recovered") => format!("\n\nOpen the webhook: {}/webhooks/{id}/statistics", self.public_url),
            (Some(id), _) => format!("\n\nSee its calls: {}/webhooks/{id}/deliveries", self.public_url),
            (None, _) => String::new(),
        };
        let text = format!(
            "{}{link}\n\nAll notices: {}/notifications\n\n— Webhook Portal, {}\n",
            notice.body, self.public_url, notice.account_name
        );
        self.transport.send(message.body(text)?).await?;
        Ok(())
    }
}
