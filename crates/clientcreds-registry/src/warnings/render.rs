//! The default rendering: subject, plain text and HTML in the six
//! languages product E lists, chosen by the recipient's locale.

use super::{Contact, ExpiryWarning, Message, Renderer};

/// The words of one language.
struct Words {
    language: &'static str,
    subject: &'static str,
    greeting: &'static str,
    intro: &'static str,
    client: &'static str,
    tenant: &'static str,
    expires: &'static str,
    remaining_one: &'static str,
    remaining_many: &'static str,
    expired_today: &'static str,
    action: &'static str,
    footer: &'static str,
}

const EN: Words = Words {
    language: "en",
    subject: "Your OAuth Client Secret is Expiring Soon",
    greeting: "Hello",
    intro: "The secret of an OAuth client you are responsible for is about to expire. Rotate it before it expires to avoid a service disruption.",
    client: "Client",
    tenant: "Tenant",
    expires: "Expires",
    remaining_one: "1 day remaining",
    remaining_many: "{n} days remaining",
    expired_today: "Expired today",
    action: "Manage the client",
    footer: "You receive this message because you own or created this client.",
};

const NB: Words = Words {
    language: "nb",
    subject: "Hemmeligheten til OAuth-klienten din utløper snart",
    greeting: "Hei",
    intro: "Hemmeligheten til en OAuth-klient du er ansvarlig for, utløper snart. Roter den før den utløper for å unngå avbrudd.",
    client: "Klient",
    tenant: "Leietaker",
    expires: "Utløper",
    remaining_one: "1 dag igjen",
    remaining_many: "{n} dager igjen",
    expired_today: "Utløpt i dag",
    action: "Administrer klienten",
    footer: "Du mottar denne meldingen fordi du eier eller opprettet denne klienten.",
};

const SV: Words = Words {
    language: "sv",
    subject: "Hemligheten för din OAuth-klient går snart ut",
    greeting: "Hej",
    intro: "Hemligheten för en OAuth-klient som du ansvarar för går snart ut. Rotera den innan den går ut för att undvika avbrott.",
    client: "Klient",
    tenant: "Hyresgäst",
    expires: "Går ut",
    remaining_one: "1 dag kvar",
    remaining_many: "{n} dagar kvar",
    expired_today: "Gick ut i dag",
    action: "Hantera klienten",
    footer: "Du får detta meddelande eftersom du äger eller skapade den här klienten.",
};

const FR: Words = Words {
    language: "fr",
    subject: "Le secret de votre client OAuth expire bientôt",
    greeting: "Bonjour",
    intro: "Le secret d'un client OAuth dont vous êtes responsable va bientôt expirer. Renouvelez-le avant son expiration pour éviter une interruption de service.",
    client: "Client",
    tenant: "Locataire",
    expires: "Expire le",
    remaining_one: "1 jour restant",
    remaining_many: "{n} jours restants",
    expired_today: "Expiré aujourd'hui",
    action: "Gérer le client",
    footer: "Vous recevez ce message parce que vous possédez ou avez créé ce client.",
};

const FI: Words = Words {
    language: "fi",
    subject: "OAuth-asiakkaasi salaisuus vanhenee pian",
    greeting: "Hei",
    intro: "Vastuullasi olevan OAuth-asiakkaan salaisuus vanhenee pian. Vaihda se ennen vanhenemista, jotta palvelu ei keskeydy.",
    client: "Asiakas",
    tenant: "Vuokralainen",
    expires: "Vanhenee",
    remaining_one: "1 päivä jäljellä",
    remaining_many: "{n} päivää jäljellä",
    expired_today: "Vanhentui tänään",
    action: "Hallitse asiakasta",
    footer: "Saat tämän viestin, koska omistat tai loit tämän asiakkaan.",
};

const DA: Words = Words {
    language: "da",
    subject: "Hemmeligheden til din OAuth-klient udløber snart",
    greeting: "Hej",
    intro: "Hemmeligheden til en OAuth-klient, som du er ansvarlig for, udløber snart. Roter den, før den udløber, for at undgå afbrydelser.",
    client: "Klient",
    tenant: "Lejer",
    expires: "Udløber",
    remaining_one: "1 dag tilbage",
    remaining_many: "{n} dage tilbage",
    expired_today: "Udløb i dag",
    action: "Administrer klienten",
    footer: "Du modtager denne besked, fordi du ejer eller har oprettet denne klient.",
};

/// The default renderer: subject, plain text and HTML in English,
/// Norwegian (`nb`, `nn`, `no`), Swedish, French, Finnish and Danish,
/// chosen by the primary subtag of the recipient's locale, English for any
/// other. The English subject is "Your OAuth Client Secret is Expiring
/// Soon". Every interpolated value is escaped in the HTML.
///
/// ```
/// use clientcreds_registry::warnings::{Contact, DefaultRenderer, ExpiryWarning, Renderer};
/// use clientcreds_store::TenantId;
/// use time::{Duration, OffsetDateTime};
///
/// let warning = ExpiryWarning {
///     tenant: TenantId::new("acme")?,
///     client_id: "cc_client_1".into(),
///     client_name: "Billing".into(),
///     secret_id: "AbCdEfGh".into(),
///     secret_display_prefix: "cc_secret_AbCdEfGh".into(),
///     expires_at: OffsetDateTime::UNIX_EPOCH + Duration::days(20_000),
///     stage_days: 14,
///     days_remaining: 14,
///     recipients: vec!["alice".into()],
///     action_url: "https://portal.example/oauth-clients".into(),
/// };
/// let swedish = DefaultRenderer.render(&warning, &Contact::new("alice", "alice@example.com", "Alice", "sv-SE"));
/// assert_eq!(swedish.language, "sv");
/// assert!(swedish.text.contains("14 dagar kvar"));
/// let english = DefaultRenderer.render(&warning, &Contact::new("bob", "bob@example.com", "Bob", "de-AT"));
/// assert_eq!(english.subject, "Your OAuth Client Secret is Expiring Soon");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, Copy, Default)]
pub struct DefaultRenderer;

impl DefaultRenderer {
    fn words(locale: &str) -> &'static Words {
        let primary = locale
            .split(['-', '_'])
            .next()
            .unwrap_or_default()
            .to_ascii_lowercase();
        match primary.as_str() {
            "nb" | "nn" | "no" => &NB,
            "sv" => &SV,
            "fr" => &FR,
            "fi" => &FI,
            "da" => &DA,
            _ => &EN,
        }
    }
}

impl Renderer for DefaultRenderer {
    fn render(&self, warning: &ExpiryWarning, contact: &Contact) -> Message {
        let words = Self::words(&contact.locale);
        let utc = warning.expires_at.to_offset(time::UtcOffset::UTC);
        let date = format!(
            "{:04}-{:02}-{:02} {:02}:{:02} UTC",
            utc.year(),
            u8::from(utc.month()),
            utc.day(),
            utc.hour(),
            utc.minute()
        );
        let remaining = match warning.days_remaining {
            _ if warning.is_expiry_day() => words.expired_today.to_owned(),
            1 => words.remaining_one.to_owned(),
            n => words.remaining_many.replace("{n}", &n.to_string()),
        };
        let text = format!(
            "{greeting} {name},\n\n{intro}\n\n{client}: {client_name} ({client_id})\n{tenant}: {tenant_id}\n{expires}: {date}\n{remaining}\n\n{action}: {url}\n\n{footer}\n",
            greeting = words.greeting,
            name = contact.display_name,
            intro = words.intro,
            client = words.client,
            client_name = warning.client_name,
            client_id = warning.client_id,
            tenant = words.tenant,
            tenant_id = warning.tenant,
            expires = words.expires,
            action = words.action,
            url = warning.action_url,
            footer = words.footer,
        );
        let html = format!(
            "<!DOCTYPE html>\n<html lang=\"{lang}\"><body>\n<p>{greeting} {name},</p>\n<p>{intro}</p>\n<table>\n<tr><th align=\"left\">{client}</th><td>{client_name} (<code>{client_id}</code>)</td></tr>\n<tr><th align=\"left\">{tenant}</th><td>{tenant_id}</td></tr>\n<tr><th align=\"left\">{expires}</th><td>{date}</td></tr>\n</table>\n<p><strong>{remaining}</strong></p>\n<p><a href=\"{url}\">{action}</a></p>\n<p><small>{footer}</small></p>\n</body></html>\n",
            lang = words.language,
            greeting = words.greeting,
            name = escape(&contact.display_name),
            intro = escape(words.intro),
            client = words.client,
            client_name = escape(&warning.client_name),
            client_id = escape(&warning.client_id),
            tenant = words.tenant,
            tenant_id = escape(warning.tenant.as_str()),
            expires = words.expires,
            date = escape(&date),
            remaining = escape(&remaining),
            url = escape(&warning.action_url),
            action = words.action,
            footer = escape(words.footer),
        );
        Message::new(words.subject, text, html, words.language)
    }
}

/// Escapes text for HTML element content and quoted attribute values.
fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use clientcreds_store::TenantId;
    use time::OffsetDateTime;

    fn warning(stage: u32, remaining: u32) -> ExpiryWarning {
        ExpiryWarning {
            tenant: TenantId::new("acme").unwrap(),
            client_id: "cc_client_x".into(),
            client_name: "Billing <prod> & \"friends\"".into(),
            secret_id: "AbCdEfGh".into(),
            secret_display_prefix: "cc_secret_AbCdEfGh".into(),
            expires_at: OffsetDateTime::from_unix_timestamp(1_803_904_200).unwrap(), // 2027-03-01 12:30 UTC
            stage_days: stage,
            days_remaining: remaining,
            recipients: vec!["alice".into()],
            action_url: "https://portal.example/t/acme/oauth?client=cc_client_x&x=1".into(),
        }
    }

    fn contact(locale: &str) -> Contact {
        Contact::new("alice", "alice@example.com", "Alice <A>", locale)
    }

    #[test]
    fn english_subject_and_facts() {
        let m = DefaultRenderer.render(&warning(7, 7), &contact("en-GB"));
        assert_eq!(m.subject, "Your OAuth Client Secret is Expiring Soon");
        assert_eq!(m.language, "en");
        assert!(
            m.text
                .contains("Billing <prod> & \"friends\" (cc_client_x)")
        );
        assert!(m.text.contains("Tenant: acme"));
        assert!(m.text.contains("2027-03-01 12:30 UTC"));
        assert!(m.text.contains("7 days remaining"));
        assert!(
            m.text
                .contains("https://portal.example/t/acme/oauth?client=cc_client_x&x=1")
        );
        let one = DefaultRenderer.render(&warning(1, 1), &contact("en"));
        assert!(one.text.contains("1 day remaining"));
        let last = DefaultRenderer.render(&warning(0, 0), &contact("en"));
        assert!(last.text.contains("Expired today"));
    }

    #[test]
    fn html_escapes_every_value() {
        let m = DefaultRenderer.render(&warning(7, 7), &contact("en"));
        assert!(
            m.html
                .contains("Billing &lt;prod&gt; &amp; &quot;friends&quot;")
        );
        assert!(m.html.contains("Alice &lt;A&gt;"));
        assert!(
            m.html.contains(
                "href=\"https://portal.example/t/acme/oauth?client=cc_client_x&amp;x=1\""
            )
        );
        assert!(!m.html.contains("<prod>"));
    }

    #[test]
    fn six_languages_by_locale_with_english_fallback() {
        for (locale, language, needle) in [
            ("nb-NO", "nb", "7 dager igjen"),
            ("no", "nb", "utløper snart"),
            ("nn_NO", "nb", "Klient"),
            ("sv-SE", "sv", "7 dagar kvar"),
            ("fr-CA", "fr", "7 jours restants"),
            ("fi", "fi", "7 päivää jäljellä"),
            ("da-DK", "da", "7 dage tilbage"),
            ("de-DE", "en", "7 days remaining"),
            ("", "en", "Expiring Soon"),
        ] {
            let m = DefaultRenderer.render(&warning(7, 7), &contact(locale));
            assert_eq!(m.language, language, "{locale}");
            assert!(
                m.text.contains(needle) || m.subject.contains(needle),
                "{locale}: {}",
                m.text
            );
            assert!(m.html.contains(&format!("lang=\"{language}\"")));
        }
    }
}
