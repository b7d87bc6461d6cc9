//! Form bodies: read, CSRF-checked, with repeated fields (checkboxes).

use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Request};

use crate::csrf::FIELD;
use crate::security::Ctx;
use crate::{Console, Error, MAX_FORM_BYTES};

/// A form a signed-in administrator posted from this console: the
/// administrator, and the fields, after the CSRF check.
#[derive(Debug)]
pub(crate) struct Posted {
    pub(crate) ctx: Ctx,
    pub(crate) form: Form,
}

impl FromRequest<Console> for Posted {
    type Rejection = Error;

    async fn from_request(request: Request, console: &Console) -> Result<Self, Error> {
        let (mut parts, body) = request.into_parts();
        let ctx = Ctx::from_request_parts(&mut parts, console).await?;
        let bytes = axum::body::to_bytes(body, MAX_FORM_BYTES)
            .await
            .map_err(|_| Error::bad("body", format!("must be at most {MAX_FORM_BYTES} bytes")))?;
        let form = Form::parse(&bytes);
        ctx.check_token(console, form.get(FIELD))?;
        Ok(Self { ctx, form })
    }
}

/// The fields of an `application/x-www-form-urlencoded` body, in order.
/// Its `Debug` shows the field names only (a form carries the CSRF token).
#[derive(Default)]
pub(crate) struct Form {
    fields: Vec<(String, String)>,
}

impl std::fmt::Debug for Form {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list()
            .entries(self.fields.iter().map(|(name, _)| name))
            .finish()
    }
}

impl Form {
    pub(crate) fn parse(bytes: &Bytes) -> Self {
        Self {
            fields: form_urlencoded::parse(bytes).into_owned().collect(),
        }
    }

    /// The first value of `name`.
    pub(crate) fn get(&self, name: &str) -> Option<&str> {
        self.fields
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// The first value of `name`, trimmed, `None` when empty.
    pub(crate) fn text(&self, name: &str) -> Option<&str> {
        self.get(name).map(str::trim).filter(|v| !v.is_empty())
    }

    /// Every value of `name` (checkboxes), trimmed, without empty ones.
    pub(crate) fn all(&self, name: &str) -> Vec<String> {
        self.fields
            .iter()
            .filter(|(n, _)| n == name)
            .map(|(_, v)| v.trim())
            .filter(|v| !v.is_empty())
            .map(str::to_owned)
            .collect()
    }

    /// A whole number of `name` (`None` when empty).
    pub(crate) fn number(&self, name: &'static str) -> Result<Option<i64>, Error> {
        self.text(name)
            .map(|text| {
                text.parse::<i64>()
                    .map_err(|_| Error::bad(name, "must be a whole number"))
            })
            .transpose()
    }
}

/// Words separated by spaces or commas.
pub(crate) fn words(text: Option<&str>) -> Vec<String> {
    text.unwrap_or_default()
        .split(|c: char| c == ',' || c.is_whitespace())
        .filter(|w| !w.is_empty())
        .map(str::to_owned)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repeated_fields_and_numbers() {
        let form = Form::parse(&Bytes::from_static(
            b"scope=read&scope=write&scope=&name=+reports+&days=7&bad=x",
        ));
        assert_eq!(form.all("scope"), ["read", "write"]);
        assert_eq!(form.text("name"), Some("reports"));
        assert_eq!(form.number("days").ok().flatten(), Some(7));
        assert!(form.number("bad").is_err());
        assert_eq!(form.number("absent").ok().flatten(), None);
        assert_eq!(words(Some("a, b  c")), ["a", "b", "c"]);
    }
}
