//! Model name → upstream. Precedence: `upstream/model` prefix, then exact
//! names, then globs, then the catch-all `"*"` upstream.

use std::borrow::Cow;
use std::sync::Arc;

use wildmatch::WildMatch;

use super::upstream::Upstream;

pub struct Routes {
    upstreams: Vec<Arc<Upstream>>,
    globs: Vec<(WildMatch, usize)>,
    default: Option<usize>,
}

/// Where one request goes, and the model name the upstream should see.
pub struct Route<'a> {
    pub upstream: &'a Arc<Upstream>,
    /// `Some` when the name was rewritten (a `provider/model` prefix was removed).
    pub rewritten_model: Option<Cow<'a, str>>,
}

impl Routes {
    pub fn new(upstreams: Vec<Upstream>) -> Routes {
        let upstreams: Vec<Arc<Upstream>> = upstreams.into_iter().map(Arc::new).collect();
        let mut globs = Vec::new();
        let mut default = None;
        for (i, up) in upstreams.iter().enumerate() {
            for p in &up.patterns {
                if p == "*" {
                    default.get_or_insert(i);
                } else {
                    globs.push((WildMatch::new(p), i));
                }
            }
        }
        Routes {
            upstreams,
            globs,
            default,
        }
    }

    pub fn all(&self) -> &[Arc<Upstream>] {
        &self.upstreams
    }

    /// The catch-all upstream, which receives every non-model `/v1/*` path.
    pub fn default_upstream(&self) -> Option<&Arc<Upstream>> {
        self.default.map(|i| &self.upstreams[i])
    }

    pub fn resolve<'a>(&'a self, model: &'a str) -> Option<Route<'a>> {
        if let Some((prefix, rest)) = model.split_once('/') {
            if let Some(up) = self.upstreams.iter().find(|u| u.name == prefix) {
                return Some(Route {
                    upstream: up,
                    rewritten_model: Some(Cow::Borrowed(rest)),
                });
            }
        }
        let exact = self
            .upstreams
            .iter()
            .find(|u| u.patterns.iter().any(|p| p == model));
        let found = exact
            .or_else(|| {
                self.globs
                    .iter()
                    .find(|(g, _)| g.matches(model))
                    .map(|(_, i)| &self.upstreams[*i])
            })
            .or_else(|| self.default_upstream())?;
        Some(Route {
            upstream: found,
            rewritten_model: None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::UpstreamConfig;

    fn up(name: &str, models: &[&str]) -> Upstream {
        let cfg = UpstreamConfig {
            name: name.into(),
            base_url: Some("http://127.0.0.1:9".into()),
            api_key_env: None,
            kind: Default::default(),
            models: models.iter().map(|s| s.to_string()).collect(),
            timeout_s: 5,
            retry: None,
            cooldown: None,
        };
        Upstream::from_config(&cfg, &crate::providers::http_client())
    }

    #[test]
    fn precedence_is_prefix_exact_glob_default() {
        let routes = Routes::new(vec![
            up("a", &["gpt-4o*"]),
            up("b", &["gpt-4o-mini"]),
            up("c", &["*"]),
        ]);
        assert_eq!(routes.resolve("gpt-4o-mini").unwrap().upstream.name, "b");
        assert_eq!(routes.resolve("gpt-4o-2024").unwrap().upstream.name, "a");
        assert_eq!(routes.resolve("llama").unwrap().upstream.name, "c");
        let r = routes.resolve("a/whatever").unwrap();
        assert_eq!(r.upstream.name, "a");
        assert_eq!(r.rewritten_model.as_deref(), Some("whatever"));
        let none = Routes::new(vec![up("a", &["x"])]);
        assert!(none.resolve("y").is_none());
    }
}
