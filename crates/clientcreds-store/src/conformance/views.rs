//! Checks of the authentication view and the per-tenant count.

use std::sync::Arc;

use crate::{AuthView, ClientStatus, SecretUse, Store};

#[allow(clippy::wildcard_imports)]
use super::support::*;

/// Checks [`ClientStore::authentication_view`] and
/// [`ClientStore::count_clients`]. The view of a stored client is
/// [`AuthView::of`] the record as stored, in any tenant; an unknown id, or
/// the id in another letter case, is `None`. It follows updates, advisory
/// use and deletes. The count is per tenant, zero for a tenant with no
/// clients, and follows inserts and deletes.
///
/// [`ClientStore::authentication_view`]: crate::ClientStore::authentication_view
/// [`ClientStore::count_clients`]: crate::ClientStore::count_clients
pub async fn authentication_view_and_count(store: &dyn Store) {
    let c = Check("authentication_view_and_count");
    let (a, b) = (tenant_a(), tenant_b());
    let count = |tenant| async move {
        let what = format!("counting the clients of {tenant}");
        c.ok(&what, store.count_clients(&tenant).await)
    };
    let view = |id: &'static str| async move {
        let what = format!("reading the authentication view of {id}");
        c.ok(&what, store.authentication_view(id).await)
    };
    c.eq("the count of an empty tenant", count(a.clone()).await, 0);

    let record = full_client(&a, "cc_view_01");
    commit_ok(c, store, insert(&record), "inserting a client").await;
    let second = client(&a, "cc_view_02", at(20));
    commit_ok(c, store, insert(&second), "inserting a second client").await;
    let other = client(&b, "cc_view_03", at(30));
    commit_ok(c, store, insert(&other), "inserting a client in tenant B").await;

    let expected = AuthView::of(&stored(&record, 1));
    c.eq(
        "the view of a stored client",
        view("cc_view_01").await.as_deref(),
        Some(&expected),
    );
    c.eq(
        "the view of tenant B's client",
        view("cc_view_03").await.as_deref(),
        Some(&AuthView::of(&stored(&other, 1))),
    );
    c.eq("the view of an unknown id", view("cc_view_99").await, None);
    c.eq(
        "the view of the id in upper case",
        view("CC_VIEW_01").await,
        None::<Arc<AuthView>>,
    );
    c.eq("the count of tenant A", count(a.clone()).await, 2);
    c.eq("the count of tenant B", count(b.clone()).await, 1);

    let mut changed = stored(&record, 1);
    changed.status = ClientStatus::Inactive;
    changed.scopes = vec!["changed:scope".to_owned()];
    commit_ok(c, store, update(&changed, 1), "updating the client").await;
    c.eq(
        "the view after an update",
        view("cc_view_01").await.as_deref(),
        Some(&AuthView::of(&stored(&changed, 2))),
    );

    let secret_id = changed.secrets.first().map(|s| s.secret_id.clone());
    if let Some(secret_id) = secret_id {
        let usage = SecretUse {
            tenant: a.clone(),
            client_id: "cc_view_01".to_owned(),
            secret_id: secret_id.clone(),
            at: at(500),
            rehash: None,
        };
        c.ok("recording a use", store.record_use(&usage).await);
        let seen = view("cc_view_01").await;
        let last_used = seen
            .as_ref()
            .and_then(|v| v.secret(&secret_id))
            .and_then(|s| s.last_used_at);
        c.eq("the view's last use after a use", last_used, Some(at(500)));
    }

    commit_ok(c, store, delete(&a, "cc_view_02", 1), "deleting a client").await;
    c.eq("the view after the delete", view("cc_view_02").await, None);
    c.eq("the count of tenant A after a delete", count(a).await, 1);
    c.eq("the count of tenant B, unchanged", count(b).await, 1);
}
