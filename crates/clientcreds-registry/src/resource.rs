//! [`LiveClientCheck`] as `clientcreds-resource`'s [`LiveCheck`] (feature
//! `resource`), so the resource crate's tower layer can run the opt-in
//! live check without depending on the registry.

use clientcreds_jwt::{AccessContext, VerifyError};
use clientcreds_resource::{BoxFuture, LiveCheck};

use crate::LiveClientCheck;

impl LiveCheck for LiveClientCheck {
    fn check<'a>(&'a self, context: &'a AccessContext) -> BoxFuture<'a, Result<(), VerifyError>> {
        Box::pin(LiveClientCheck::check(self, context))
    }
}
