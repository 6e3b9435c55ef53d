//! Custom key stores (AWS CloudHSM and external key stores) are not modelled: this endpoint has
//! none. DescribeCustomKeyStores answers truthfully (an empty list); CreateCustomKeyStore is
//! `UnsupportedOperationException`; the operations on one store name a store that does not exist
//! (`CustomKeyStoreNotFoundException`), as KMS answers for an unknown id.

use serde::Deserialize;
use serde_json::{Value, json};

use super::{Call, page_limit, required};
use crate::server::error::{Code, KmsError, OpResult};

#[derive(Deserialize, Default)]
#[serde(rename_all = "PascalCase", default)]
struct StoreRequest {
    custom_key_store_id: Option<String>,
    custom_key_store_name: Option<String>,
    limit: Option<i64>,
    marker: Option<String>,
}

/// `CustomKeyStoreNotFoundException` for store `id`.
pub(super) fn custom_key_store_not_found(id: &str) -> KmsError {
    KmsError::new(
        Code::CustomKeyStoreNotFound,
        format!("Custom key store {id} does not exist: this local KMS has no custom key stores."),
    )
}

/// CreateCustomKeyStore: `UnsupportedOperationException`.
pub(super) fn create_custom_key_store(_: &mut Call<'_>) -> OpResult<Value> {
    Err(KmsError::new(
        Code::UnsupportedOperation,
        "Custom key stores (AWS CloudHSM, external key stores) are not supported by this local KMS.",
    ))
}

/// DescribeCustomKeyStores: no stores; a named one does not exist.
pub(super) fn describe_custom_key_stores(c: &mut Call<'_>) -> OpResult<Value> {
    let r: StoreRequest = c.request()?;
    page_limit(r.limit, 100, 1000)?;
    c.app.read_marker(r.marker.as_deref())?;
    if let Some(id) = r.custom_key_store_id.or(r.custom_key_store_name) {
        return Err(custom_key_store_not_found(&id));
    }
    Ok(json!({ "CustomKeyStores": [], "Truncated": false }))
}

/// Connect-, Disconnect-, Update- and DeleteCustomKeyStore: the store does not exist.
pub(super) fn on_custom_key_store(c: &mut Call<'_>) -> OpResult<Value> {
    let r: StoreRequest = c.request()?;
    Err(custom_key_store_not_found(&required(
        r.custom_key_store_id,
        "CustomKeyStoreId",
    )?))
}
