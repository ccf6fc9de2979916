//! How errors leave the server: every failure is an `ApiError` JSON body with MLflow's
//! `error_code`/`message` and the matching status, so the MLflow client and `HttpStore` read
//! them alike. User errors are always 4xx (the MLflow client retries 5xx for minutes).
use crate::api::ApiError;
use crate::error::KirokuError;
use axum::extract::rejection::BytesRejection;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;

/// The longest message an error answer carries: messages quote the request, and a bad 10 MB
/// value must not come back whole.
const MAX_ANSWER_MESSAGE_CHARS: usize = 1000;

impl IntoResponse for ApiError {
    /// A 500 is a failure of the server, never of the request: its details (SQL text, server
    /// paths) are logged here and the client reads a generic message.
    fn into_response(mut self) -> Response {
        self.message = crate::model::excerpt_middle(&self.message, MAX_ANSWER_MESSAGE_CHARS);
        let status =
            StatusCode::from_u16(self.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        if status == StatusCode::INTERNAL_SERVER_ERROR && self.message != GENERIC_FAILURE {
            eprintln!(
                "kiroku serve: internal error ({}): {}",
                self.error_code, self.message
            );
            self.message = GENERIC_FAILURE.to_string();
        }
        (status, Json(self)).into_response()
    }
}

/// What a client reads about a server-side failure (the details go to the server's log).
pub const GENERIC_FAILURE: &str = "the server could not complete the request (see the server log)";

impl From<KirokuError> for ApiError {
    fn from(e: KirokuError) -> Self {
        ApiError::from(&e)
    }
}

/// `INVALID_PARAMETER_VALUE` (400) with a message.
pub fn invalid(message: impl Into<String>) -> ApiError {
    ApiError::new("INVALID_PARAMETER_VALUE", message)
}

/// `RESOURCE_DOES_NOT_EXIST` (404) with a message.
pub fn not_found(message: impl Into<String>) -> ApiError {
    ApiError::new("RESOURCE_DOES_NOT_EXIST", message)
}

/// A body that could not be read: too large (413) or broken off (400).
pub fn body_rejection(r: BytesRejection) -> ApiError {
    if r.status() == StatusCode::PAYLOAD_TOO_LARGE {
        ApiError::new("PAYLOAD_TOO_LARGE", "request body is too large")
    } else {
        invalid(format!("could not read the request body: {r}"))
    }
}

/// The answer for routes that do not exist: JSON, so `get_experiment_by_name` and friends see
/// a proper MLflow error rather than an HTML page.
pub async fn endpoint_not_found(uri: axum::http::Uri) -> ApiError {
    ApiError::new(
        "ENDPOINT_NOT_FOUND",
        format!("no API endpoint at {}", uri.path()),
    )
}

/// The answer for a known route asked with a method it does not take (axum's own 405 has an
/// empty body).
pub async fn method_not_allowed(method: axum::http::Method, uri: axum::http::Uri) -> Response {
    let e = ApiError::new(
        "BAD_REQUEST",
        format!("{method} is not allowed on {}", uri.path()),
    );
    (StatusCode::METHOD_NOT_ALLOWED, Json(e)).into_response()
}
