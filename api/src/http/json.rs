//! `ApiJson<T>`: axum's JSON extractor with its rejections in the API's error format, and a limit on
//! how deeply a body may nest.

use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use axum::http::{header, StatusCode};
use serde::de::DeserializeOwned;
use serde_json::json;

use crate::error::ApiError;

/// Deepest nesting of arrays and objects a request body may have (a strategy graph needs about 6).
pub const MAX_DEPTH: usize = 32;

/// A JSON request body: a wrong content type or malformed JSON is a 400, an oversized body a
/// 413, a body nested deeper than [`MAX_DEPTH`] a 422 naming the limit.
pub struct ApiJson<T>(pub T);

impl<S, T> FromRequest<S> for ApiJson<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let json_type = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(is_json);
        if !json_type {
            return Err(ApiError::BadRequest("Expected request with `Content-Type: application/json`".into()));
        }
        let bytes = Bytes::from_request(req, state).await.map_err(|r| {
            if r.status() == StatusCode::PAYLOAD_TOO_LARGE { ApiError::PayloadTooLarge } else { ApiError::BadRequest(r.body_text()) }
        })?;
        let depth = depth(&bytes);
        if depth > MAX_DEPTH {
            return Err(ApiError::validation(
                format!("the JSON body nests {depth} levels deep; at most {MAX_DEPTH}"),
                json!({"field": "body", "depth": depth, "maxDepth": MAX_DEPTH}),
            ));
        }
        match axum::Json::<T>::from_bytes(&bytes) {
            Ok(axum::Json(v)) => Ok(ApiJson(v)),
            Err(r) => Err(ApiError::BadRequest(r.body_text())),
        }
    }
}

/// How deeply arrays and objects nest in a JSON text (brackets inside strings do not count; a
/// malformed text still gets a number, and the parser then rejects it).
pub fn depth(text: &[u8]) -> usize {
    let (mut depth, mut deepest, mut in_string, mut escaped) = (0usize, 0usize, false, false);
    for &b in text {
        if in_string {
            match b {
                _ if escaped => escaped = false,
                b'\\' => escaped = true,
                b'"' => in_string = false,
                _ => {}
            }
            continue;
        }
        match b {
            b'"' => in_string = true,
            b'{' | b'[' => {
                depth += 1;
                deepest = deepest.max(depth);
            }
            b'}' | b']' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    deepest
}

/// `application/json` and `application/<anything>+json` (parameters ignored), as axum's own extractor accepts.
fn is_json(content_type: &str) -> bool {
    let essence = content_type.split(';').next().unwrap_or("").trim().to_ascii_lowercase();
    matches!(essence.split_once('/'), Some(("application", sub)) if sub == "json" || sub.ends_with("+json"))
}

#[cfg(test)]
mod tests {
    use super::depth;

    #[test]
    fn depth_counts_brackets_outside_strings() {
        assert_eq!(depth(b"1"), 0);
        assert_eq!(depth(br#"{"a": [1, {"b": []}]}"#), 4);
        assert_eq!(depth(br#"{"a": "[[[[{{{{", "b": "\"[["}"#), 1);
        assert_eq!(depth(br#"[[]] [[[ ]]]"#), 3);
        let deep = format!("{}{}", "[".repeat(100), "]".repeat(100));
        assert_eq!(depth(deep.as_bytes()), 100);
    }
}
