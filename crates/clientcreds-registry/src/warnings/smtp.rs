//! Expiry warnings by e-mail, with lettre (feature `smtp`).

use std::fmt;

use async_trait::async_trait;
use lettre::message::header::{HeaderName, HeaderValue};
use lettre::message::{Mailbox, MultiPart};
use lettre::{AsyncSmtpTransport, AsyncTransport, Tokio1Executor};

use super::{Notification, Notifier};
use crate::Error;

/// Sends each warning as a `multipart/alternative` e-mail (plain text and
/// HTML, `Content-Language` set) over SMTP.
///
/// Configured by URL, as lettre reads it:
///
/// | URL | connection |
/// |---|---|
/// | `smtps://user:password@mail.example.com` | TLS from the first byte (port 465) |
/// | `smtp://user:password@mail.example.com:587?tls=required` | STARTTLS, refused without it |
/// | `smtp://mail.example.com:587?tls=opportunistic` | STARTTLS when offered |
/// | `smtp://127.0.0.1:2525` | plain text (a local relay or a test server) |
///
/// Authentication is used when the URL carries credentials. TLS is rustls
/// with the web PKI roots. `Debug` shows neither the URL nor the password.
///
/// ```
/// use clientcreds_registry::warnings::SmtpNotifier;
///
/// # tokio::runtime::Runtime::new().unwrap().block_on(async {
/// let notifier = SmtpNotifier::from_url(
///     "smtp://mailer:password@mail.example.com:587?tls=required",
///     "Identity Platform <no-reply@example.com>",
/// )?;
/// assert!(!format!("{notifier:?}").contains("password"));
/// # Ok::<(), clientcreds_registry::Error>(())
/// # }).unwrap();
/// ```
pub struct SmtpNotifier {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
}

impl fmt::Debug for SmtpNotifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SmtpNotifier")
            .field("from", &self.from.email.to_string())
            .finish_non_exhaustive()
    }
}

impl SmtpNotifier {
    /// A notifier for the server `url` names, sending from `from`
    /// (`Name <address>` or `address`).
    ///
    /// # Errors
    /// [`Error::Invalid`] naming `smtp_url` or `smtp_from` (the message
    /// never repeats the URL, which may hold a password).
    pub fn from_url(url: &str, from: &str) -> Result<Self, Error> {
        let transport = AsyncSmtpTransport::<Tokio1Executor>::from_url(url)
            .map_err(|_| {
                Error::invalid("smtp_url", "not an smtp:// or smtps:// URL lettre accepts")
            })?
            .build();
        let from = from
            .parse()
            .map_err(|_| Error::invalid("smtp_from", "not an e-mail address"))?;
        Ok(Self { transport, from })
    }
}

#[async_trait]
impl Notifier for SmtpNotifier {
    async fn notify(&self, notification: &Notification) -> Result<(), Error> {
        let contact = &notification.contact;
        let to = Mailbox::new(
            Some(contact.display_name.clone()),
            contact
                .address
                .parse()
                .map_err(|_| Error::delivery("the recipient's address is not valid"))?,
        );
        let email = lettre::Message::builder()
            .from(self.from.clone())
            .to(to)
            .subject(notification.message.subject.clone())
            .raw_header(HeaderValue::new(
                HeaderName::new_from_ascii_str("Content-Language"),
                notification.message.language.to_owned(),
            ))
            .multipart(MultiPart::alternative_plain_html(
                notification.message.text.clone(),
                notification.message.html.clone(),
            ))
            .map_err(|e| Error::delivery(format!("the message could not be built: {e}")))?;
        self.transport
            .send(email)
            .await
            .map_err(|e| Error::delivery(format!("smtp: {e}")))?;
        Ok(())
    }
}
