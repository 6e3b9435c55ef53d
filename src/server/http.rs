//! HTTP: one route for everything. KMS requests (AWS JSON 1.1: `POST /`, `X-Amz-Target:
//! TrentService.<Operation>`) are authenticated (SigV4, service `kms`) and dispatched through the
//! operation table ([`super::ops`]); every other request is STS (query protocol, service `sts`).
//! Operations run on the blocking pool (SQLite and OpenSSL block).

use std::sync::Arc;
use std::time::{Instant, SystemTime};

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};

use super::auth::sigv4::Caller;
use super::auth::sts;
use super::error::{Code, KmsError, OpResult};
use super::{App, CONTENT_TYPE, MAX_BODY, ops};

/// The router: KMS requests are `POST /` with the operation in `X-Amz-Target`; STS requests
/// (query protocol) are form POSTs or GETs with `Action=` on the same port.
pub fn router(app: Arc<App>) -> Router {
    Router::new().fallback(handle).with_state(app)
}

/// Whether a request is for KMS (AWS JSON: an `X-Amz-Target`, or an AWS JSON body); everything
/// else is STS.
fn is_kms(headers: &HeaderMap) -> bool {
    headers.contains_key("x-amz-target")
        || headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("application/x-amz-json"))
}

/// Answers an STS request: authenticate (service `sts`), then [`sts::handle`].
fn handle_sts(
    app: &App,
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
    body: OpResult<Bytes>,
) -> Response {
    let started = Instant::now();
    let body = match body {
        Ok(b) => b,
        Err(e) => return sts_error_response(&sts::StsError::validation(e.message)),
    };
    let caller = match app.authenticate(method, uri, headers, &body, "sts") {
        Ok(c) => c,
        Err(e) => {
            tracing::info!(target: "kms_openssl::server", "sts outcome={}", e.code("sts"));
            return sts_error_response(&sts::StsError {
                code: e.code("sts"),
                message: e.message().to_string(),
                status: e.status("sts"),
            });
        }
    };
    let form = if method == Method::GET {
        uri.query().unwrap_or("").as_bytes().to_vec()
    } else {
        body.to_vec()
    };
    let now = SystemTime::now();
    app.sessions.purge_expired(
        now.checked_sub(super::auth::EXPIRED_SESSION_KEPT)
            .unwrap_or(now),
    );
    let r = sts::handle(&form, &caller, &app.sessions, now);
    let action = sts::parse_form(&form)
        .into_iter()
        .find(|(k, _)| k == "Action")
        .map(|(_, v)| v)
        .unwrap_or_default();
    let latency_ms = started.elapsed().as_secs_f64() * 1000.0;
    tracing::info!(target: "kms_openssl::server", "sts {action} caller={} status={} latency_ms={latency_ms:.1}", caller.principal, r.status);
    sts_response(r.status, r.body, &r.request_id)
}

fn sts_error_response(e: &sts::StsError) -> Response {
    let request_id = uuid::Uuid::new_v4().to_string();
    sts_response(e.status, sts::error_xml(e, &request_id), &request_id)
}

fn sts_response(status: u16, body: String, request_id: &str) -> Response {
    let mut r = (
        StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_REQUEST),
        body,
    )
        .into_response();
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(sts::CONTENT_TYPE),
    );
    if let Ok(v) = HeaderValue::from_str(request_id) {
        r.headers_mut().insert("x-amzn-requestid", v);
    }
    r
}

async fn handle(
    State(app): State<Arc<App>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let started = Instant::now();
    // Read the body ourselves so an oversized one still gets a KMS-shaped answer.
    // Within the body timeout: a client that stops half way does not hold a worker.
    let limit = app.limits.body_timeout;
    let body: OpResult<Bytes> =
        match tokio::time::timeout(limit, axum::body::to_bytes(body, MAX_BODY)).await {
            Ok(Ok(b)) => Ok(b),
            Ok(Err(_)) => Err(KmsError::validation(format!(
                "the request body is larger than {MAX_BODY} bytes"
            ))),
            Err(_) => Err(KmsError::validation(format!(
                "the request body did not arrive within {} s",
                limit.as_secs()
            ))),
        };
    if !is_kms(&headers) {
        return tokio::task::spawn_blocking(move || {
            handle_sts(&app, &method, &uri, &headers, body)
        })
        .await
        .unwrap_or_else(|e| {
            sts_error_response(&sts::StsError::internal(format!("STS task: {e}")))
        });
    }
    let target = headers
        .get("x-amz-target")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    let op = target
        .strip_prefix("TrentService.")
        .unwrap_or(&target)
        .to_string();
    let request_id = uuid::Uuid::new_v4().to_string();
    let (key, result) = if method != Method::POST {
        (
            String::new(),
            Err(KmsError::new(
                Code::UnsupportedOperation,
                format!("{method} is not supported: KMS takes POST / with X-Amz-Target"),
            )),
        )
    } else if let Err(e) = &body {
        (String::new(), Err(e.clone()))
    } else {
        let body = body.unwrap_or_default();
        let app2 = app.clone();
        let op2 = op.clone();
        let run = move || match app2.authenticate(&method, &uri, &headers, &body, "kms") {
            Ok(caller) => run_op(&app2, &caller, &op2, &body),
            // No key is looked at (or logged) for an unauthenticated request.
            Err(e) => (String::new(), Err(KmsError::from_auth(&e))),
        };
        // Short CPU-bound operations run here: a hop to the blocking pool costs more than they
        // do. Key generation and SQLite writes (fsync) go to the blocking pool.
        if ops::operation(&op).is_some_and(|o| o.runs_inline()) {
            run()
        } else {
            tokio::task::spawn_blocking(run)
                .await
                .unwrap_or_else(|e| (String::new(), Err(KmsError::internal("operation task", e))))
        }
    };
    let latency_ms = started.elapsed().as_secs_f64() * 1000.0;
    let mut response = match result {
        Ok(v) => {
            tracing::info!(target: "kms_openssl::server", "{op} key={key} outcome=ok latency_ms={latency_ms:.1}");
            let body = serde_json::to_vec(&v).unwrap_or_default();
            let mut r = (StatusCode::OK, body).into_response();
            r.headers_mut()
                .insert(header::CONTENT_TYPE, HeaderValue::from_static(CONTENT_TYPE));
            r
        }
        Err(e) => {
            tracing::info!(target: "kms_openssl::server", "{op} key={key} outcome={} latency_ms={latency_ms:.1}", e.code.as_str());
            e.into_response()
        }
    };
    if let Ok(v) = HeaderValue::from_str(&request_id) {
        response.headers_mut().insert("x-amzn-requestid", v);
    }
    response
}

/// Parses the body of an authenticated request (once: every later use reads this value) and
/// dispatches it; returns the key the request named (for the log).
fn run_op(
    app: &App,
    caller: &Caller,
    op: &str,
    body: &[u8],
) -> (String, OpResult<serde_json::Value>) {
    let value: serde_json::Value = if body.iter().all(u8::is_ascii_whitespace) {
        serde_json::Value::Object(Default::default())
    } else {
        match serde_json::from_slice(body) {
            Ok(v @ serde_json::Value::Object(_)) => v,
            Ok(_) => {
                return (
                    String::new(),
                    Err(KmsError::new(
                        Code::Serialization,
                        "the request body is not a JSON object",
                    )),
                );
            }
            Err(e) => {
                return (
                    String::new(),
                    Err(KmsError::new(
                        Code::Serialization,
                        format!("the request body is not valid JSON: {e}"),
                    )),
                );
            }
        }
    };
    let key = ["KeyId", "TargetKeyId", "AliasName"]
        .iter()
        .find_map(|f| value.get(*f).and_then(|v| v.as_str()))
        .unwrap_or("-")
        .to_string();
    let result = ops::dispatch(app, caller, op, &value);
    // CreateKey names no key in its request: log the one it made.
    let created = result
        .as_ref()
        .ok()
        .and_then(|v| v["KeyMetadata"]["KeyId"].as_str());
    let key = match created {
        Some(id) if key == "-" => id.to_string(),
        _ => key,
    };
    (key, result)
}
