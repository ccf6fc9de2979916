//! Webhooks signed as MLflow 3 signs them: headers `X-MLflow-Delivery-Id`, `X-MLflow-Timestamp`
//! (seconds since the epoch) and `X-MLflow-Signature: v1,<base64 HMAC-SHA256(secret,
//! "{id}.{timestamp}.{body}")>`; the body is `{entity, action, timestamp, data: {...}}`.
//! A receiver checks the signature with `verify` (the tests' receiver does).
use base64::Engine;
use hmac::{Hmac, Mac};
use sha2::Sha256;
use std::time::Duration;

type HmacSha256 = Hmac<Sha256>;

/// How long one POST may take.
pub const POST_TIMEOUT: Duration = Duration::from_secs(10);

/// `v1,<base64 HMAC-SHA256(secret, "{id}.{timestamp}.{body}")>`.
pub fn signature(secret: &[u8], delivery_id: &str, timestamp: i64, body: &[u8]) -> String {
    let mut mac = HmacSha256::new_from_slice(secret).expect("HMAC takes a key of any length");
    mac.update(delivery_id.as_bytes());
    mac.update(b".");
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    let digest = mac.finalize().into_bytes();
    format!(
        "v1,{}",
        base64::engine::general_purpose::STANDARD.encode(digest)
    )
}

/// Whether `header` (an `X-MLflow-Signature` value) signs `body` for this id and timestamp.
/// Compared in constant time.
pub fn verify(secret: &[u8], delivery_id: &str, timestamp: i64, body: &[u8], header: &str) -> bool {
    let Some(encoded) = header.strip_prefix("v1,") else {
        return false;
    };
    let Ok(given) = base64::engine::general_purpose::STANDARD.decode(encoded.trim()) else {
        return false;
    };
    let mut mac = HmacSha256::new_from_slice(secret).expect("HMAC takes a key of any length");
    mac.update(delivery_id.as_bytes());
    mac.update(b".");
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    mac.verify_slice(&given).is_ok()
}

/// What a POST came to: the HTTP status (when the receiver answered) and an error when it
/// did not succeed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PostOutcome {
    pub status_code: Option<u16>,
    pub error: Option<String>,
}

impl PostOutcome {
    pub fn succeeded(&self) -> bool {
        self.error.is_none()
    }

    /// Whether trying again may help: no answer, 408, 429 or a 5xx (a 4xx is the request's
    /// fault and will not change).
    pub fn retryable(&self) -> bool {
        match self.status_code {
            None => true,
            Some(code) => code == 408 || code == 429 || code >= 500,
        }
    }
}

/// POSTs `body` to `url`, signed with `secret` when there is one.
pub fn post(
    client: &reqwest::blocking::Client,
    url: &str,
    delivery_id: &str,
    timestamp: i64,
    body: &[u8],
    secret: Option<&[u8]>,
) -> PostOutcome {
    let mut request = client
        .post(url)
        .timeout(POST_TIMEOUT)
        .header("Content-Type", "application/json")
        .header("X-MLflow-Delivery-Id", delivery_id)
        .header("X-MLflow-Timestamp", timestamp.to_string());
    if let Some(secret) = secret {
        request = request.header(
            "X-MLflow-Signature",
            signature(secret, delivery_id, timestamp, body),
        );
    }
    match request.body(body.to_vec()).send() {
        Ok(response) => {
            let code = response.status().as_u16();
            let error = (!response.status().is_success()).then(|| {
                let text = response.text().unwrap_or_default();
                format!(
                    "HTTP {code}{}",
                    if text.trim().is_empty() {
                        String::new()
                    } else {
                        format!(": {}", crate::model::excerpt(text.trim(), 200))
                    }
                )
            });
            PostOutcome {
                status_code: Some(code),
                error,
            }
        }
        Err(e) => PostOutcome {
            status_code: None,
            error: Some(format!("no answer from {url}: {e}")),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signature_is_hmac_sha256_of_id_timestamp_and_body() {
        // Computed independently: python3 -c 'import hmac,hashlib,base64;
        // print(base64.b64encode(hmac.new(b"s3cret", b"d-1.1700000000.{}", hashlib.sha256).digest()))'
        let sig = signature(b"s3cret", "d-1", 1_700_000_000, b"{}");
        assert_eq!(sig, "v1,ffAlUwnIkZyROfdeDakYdx/QELuJ1gjEmzbfJrcVam0=");
        assert!(verify(b"s3cret", "d-1", 1_700_000_000, b"{}", &sig));
        assert!(!verify(b"other", "d-1", 1_700_000_000, b"{}", &sig));
        assert!(!verify(b"s3cret", "d-2", 1_700_000_000, b"{}", &sig));
        assert!(!verify(b"s3cret", "d-1", 1_700_000_000, b"{} ", &sig));
        assert!(!verify(b"s3cret", "d-1", 1_700_000_000, b"{}", "v2,abc"));
    }

    #[test]
    fn retries_are_for_no_answer_throttling_and_server_errors() {
        let outcome = |code: Option<u16>| PostOutcome {
            status_code: code,
            error: Some("x".into()),
        };
        assert!(outcome(None).retryable());
        assert!(outcome(Some(503)).retryable());
        assert!(outcome(Some(429)).retryable());
        assert!(!outcome(Some(400)).retryable());
        assert!(!outcome(Some(404)).retryable());
    }
}
