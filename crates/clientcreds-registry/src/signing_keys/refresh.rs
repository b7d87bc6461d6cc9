//! The key manager's own refresh task: a tick every `refresh_every`,
//! stopped when the manager is dropped or shut down.

use std::sync::{Arc, Mutex, PoisonError};

use tokio::sync::watch;
use tokio::task::JoinHandle;

use super::KeyManager;

/// A running refresh task and the channel that stops it (dropping the
/// sender stops it too, after the tick in flight, if any).
pub(super) struct RefreshTask {
    stop: watch::Sender<()>,
    task: JoinHandle<()>,
}

impl KeyManager {
    /// Whether the refresh task of [`KeyManager::start`] is running (false
    /// after [`KeyManager::start_manual`] and after
    /// [`KeyManager::shutdown`]).
    #[must_use]
    pub fn is_refreshing(&self) -> bool {
        self.refresh
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .as_ref()
            .is_some_and(|running| !running.task.is_finished())
    }

    /// Stops the refresh task, waiting for a tick in flight to finish, so
    /// that nothing writes to the key store afterwards. The key set stays
    /// loaded as it is and [`KeyManager::tick`] still works by hand.
    /// Dropping the manager stops the task too (without waiting). Does
    /// nothing after [`KeyManager::start_manual`] or a first shutdown.
    pub async fn shutdown(&self) {
        let running = self
            .refresh
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        if let Some(RefreshTask { stop, task }) = running {
            drop(stop);
            // The task only ends by returning; a runtime shutting down may
            // cancel it, which is an end too.
            let _ = task.await;
        }
    }

    /// Spawns the refresh task on `runtime`. It ticks a twin of this
    /// manager that shares every part (store, keys, opened keys, last
    /// ring), so the task holds no reference to the manager itself and
    /// the manager's drop ends it.
    pub(super) fn spawn_refresh(&self, runtime: &tokio::runtime::Handle) {
        let twin = Self {
            store: self.store.clone(),
            master: self.master.clone(),
            policy: self.policy.clone(),
            clock: self.clock.clone(),
            keys: self.keys.clone(),
            opened: Arc::clone(&self.opened),
            last: Arc::clone(&self.last),
            unreadable: Arc::clone(&self.unreadable),
            audit_tenant: self.audit_tenant.clone(),
            refresh: Mutex::new(None),
        };
        // A refresh_every beyond std's range is refused by the policy's
        // validation (at most 10 years); the fallback is never used.
        let every = std::time::Duration::try_from(self.policy.refresh_every)
            .unwrap_or(std::time::Duration::from_secs(60));
        let (stop, mut stopped) = watch::channel(());
        let task = runtime.spawn(async move {
            loop {
                // `changed` fails once the sender is gone: shutdown or drop.
                if tokio::time::timeout(every, stopped.changed()).await.is_ok() {
                    return;
                }
                match twin.tick().await {
                    Ok(step) => {
                        if let Some(kid) = &step.created {
                            tracing::info!(%kid, "published the next signing key");
                        }
                        for kid in &step.purged {
                            tracing::info!(%kid, "unpublished a retired signing key");
                        }
                        if step.resealed > 0 {
                            tracing::info!(
                                resealed = step.resealed,
                                "re-sealed signing keys under the current master key"
                            );
                        }
                    }
                    Err(error) => tracing::error!(
                        error = &error as &dyn std::error::Error,
                        "signing key refresh failed; keeping the loaded keys"
                    ),
                }
            }
        });
        *self.refresh.lock().unwrap_or_else(PoisonError::into_inner) =
            Some(RefreshTask { stop, task });
    }
}

impl Drop for KeyManager {
    fn drop(&mut self) {
        // Dropping the sender ends the task after the tick in flight.
        drop(
            self.refresh
                .get_mut()
                .unwrap_or_else(PoisonError::into_inner)
                .take(),
        );
    }
}
