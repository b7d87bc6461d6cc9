//! What the server's test files share.

pub(crate) mod process;
