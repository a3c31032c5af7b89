//! The HTTP client the CLI uses to talk to a running gateway.

use serde_json::Value;

pub struct Gateway {
    http: reqwest::Client,
    base: String,
    key: String,
}

impl Gateway {
    pub fn new(url: &str, key: &str) -> Gateway {
        Gateway {
            http: reqwest::Client::new(),
            base: url.trim_end_matches('/').trim_end_matches("/v1").to_owned(),
            key: key.to_owned(),
        }
    }

    async fn send(&self, req: reqwest::RequestBuilder) -> anyhow::Result<Value> {
        let resp = req.bearer_auth(&self.key).send().await?;
        let status = resp.status();
        let text = resp.text().await?;
        // JSON answers are parsed; anything else (CSV) is kept as text.
        let body: Value = serde_json::from_str(&text).unwrap_or(Value::String(text));
        if !status.is_success() {
            let msg = body
                .pointer("/error/message")
                .and_then(Value::as_str)
                .map(str::to_owned)
                .unwrap_or_else(|| body.to_string());
            anyhow::bail!("{} ({})", msg, status.as_u16());
        }
        Ok(body)
    }

    pub async fn get(&self, path: &str) -> anyhow::Result<Value> {
        self.send(self.http.get(format!("{}{path}", self.base)))
            .await
    }

    pub async fn post(&self, path: &str, body: &Value) -> anyhow::Result<Value> {
        self.send(self.http.post(format!("{}{path}", self.base)).json(body))
            .await
    }

    pub async fn delete(&self, path: &str) -> anyhow::Result<Value> {
        self.send(self.http.delete(format!("{}{path}", self.base)))
            .await
    }

    pub async fn put(&self, path: &str, body: &Value) -> anyhow::Result<Value> {
        self.send(self.http.put(format!("{}{path}", self.base)).json(body))
            .await
    }
}
