//! `POST /embeddings`: unit vectors derived from a hash of each input, as
//! floats or base64, of the asked number of dimensions.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use base64::Engine;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use super::answer::estimate_tokens;
use super::request::{start, MockState};
use super::wire::error;

pub async fn embeddings(State(state): State<Arc<MockState>>, body: Bytes) -> Response {
    let (req, model) = match start(&state, &body, "mock-embedding").await {
        Ok(started) => started,
        Err(r) => return r,
    };
    let inputs: Vec<String> = match req.get("input") {
        Some(Value::String(s)) => vec![s.clone()],
        Some(Value::Array(items)) if !items.is_empty() => {
            if items.iter().all(Value::is_number) {
                vec![Value::Array(items.clone()).to_string()]
            } else {
                items
                    .iter()
                    .map(|i| {
                        i.as_str()
                            .map(str::to_owned)
                            .unwrap_or_else(|| i.to_string())
                    })
                    .collect()
            }
        }
        _ => {
            return error(
                400,
                "'input' must be a string or a non-empty array",
                "invalid_request_error",
                None,
            )
        }
    };
    let dims = req
        .get("dimensions")
        .and_then(Value::as_u64)
        .unwrap_or(256)
        .clamp(1, 4096) as usize;
    let base64 = req.get("encoding_format").and_then(Value::as_str) == Some("base64");
    let mut prompt_tokens = 0;
    let data: Vec<Value> = inputs
        .iter()
        .enumerate()
        .map(|(i, text)| {
            prompt_tokens += estimate_tokens(text).max(1);
            let vector = embedding(text, dims);
            let embedding = if base64 {
                let bytes: Vec<u8> = vector.iter().flat_map(|f| f.to_le_bytes()).collect();
                Value::String(base64::engine::general_purpose::STANDARD.encode(bytes))
            } else {
                json!(vector)
            };
            json!({"object": "embedding", "index": i, "embedding": embedding})
        })
        .collect();
    axum::Json(json!({"object": "list", "data": data, "model": model,
        "usage": {"prompt_tokens": prompt_tokens, "total_tokens": prompt_tokens}}))
    .into_response()
}

/// A unit vector derived from the text's hash.
fn embedding(text: &str, dims: usize) -> Vec<f32> {
    let mut out = Vec::with_capacity(dims);
    let mut block: [u8; 32] = Sha256::digest(text.as_bytes()).into();
    while out.len() < dims {
        for pair in block.chunks(2) {
            if out.len() == dims {
                break;
            }
            out.push((u16::from_le_bytes([pair[0], pair[1]]) as f32 / 32768.0) - 1.0);
        }
        block = Sha256::digest(block).into();
    }
    let norm = out
        .iter()
        .map(|x| x * x)
        .sum::<f32>()
        .sqrt()
        .max(f32::EPSILON);
    out.iter_mut().for_each(|x| *x /= norm);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn embeddings_are_unit_vectors_of_the_asked_size() {
        let v = embedding("hello", 300);
        assert_eq!(v.len(), 300);
        let norm: f32 = v.iter().map(|x| x * x).sum::<f32>().sqrt();
        assert!((norm - 1.0).abs() < 1e-4);
        assert_eq!(v, embedding("hello", 300));
    }
}
