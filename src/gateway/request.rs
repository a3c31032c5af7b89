//! The request stage: what the client asks for, read and checked, and where
//! it goes. Resolves `[aliases]`, checks the endpoint's required fields,
//! routes the model to an upstream, takes promptgate's own fields (metadata,
//! tags, cache directives) out of the body and rewrites the model for the
//! upstream when its route says so.

use crate::api::{ApiError, Endpoint};
use crate::cache;

use super::body::RequestBody;
use super::call::{Call, Fallback, Plan};

pub fn stage(call: &mut Call<'_>, body: &mut RequestBody<'_>) -> Result<Plan, ApiError> {
    let state = call.state;
    let endpoint = call.endpoint;
    let Some(mut model) = body.str_field("model")? else {
        return model_less(call, body);
    };
    // `[aliases]`: a stable name for clients, the real model for upstreams,
    // prices and records.
    let alias = state.config.aliases.get(&model);
    if let Some(alias) = alias {
        model = alias.primary().to_owned();
        body.set(
            "model",
            serde_json::value::to_raw_value(&model).map_err(ApiError::internal)?,
        );
    }
    call.recorder.set_model(&model);
    if !call.caller.may_call(&model) {
        return Err(ApiError::PermissionDenied(format!(
            "this key may not call model `{model}` (its allowed models are set when the key is created)"
        )));
    }
    let stream = body.bool_field("stream")?.unwrap_or(false);
    match endpoint {
        Endpoint::Chat => body.require_array("messages")?,
        Endpoint::Completions => body.require_present("prompt")?,
        Endpoint::Embeddings => body.require_present("input")?,
        Endpoint::Responses => {}
        Endpoint::Messages => body.require_array("messages")?,
    }

    let route = state
        .routes
        .resolve(&model)
        .ok_or_else(|| ApiError::ModelNotFound(model.clone()))?;
    let upstream = route.upstream.clone();
    if endpoint == Endpoint::Messages && !upstream.speaks_messages() {
        return Err(ApiError::invalid(
            format!(
                "model `{model}` is served by upstream `{}`, which does not speak the Messages API; \
                 call /v1/chat/completions, or route the model to an upstream of kind \"anthropic\"",
                upstream.name
            ),
            Some("model"),
        ));
    }
    call.recorder.set_route(&model, &upstream.name, stream);
    call.recorder.trace().routed(upstream.kind.provider_name());
    let fallbacks = match alias {
        Some(alias) if !alias.fallbacks().is_empty() => fallbacks(call, alias.fallbacks()),
        _ => Vec::new(),
    };

    take_metadata(call, body)?;
    let cache_field = body.take("cache");
    let cache = cache::policy(
        endpoint,
        cache_field.as_deref().map(|raw| raw.get()),
        call.headers,
        &model,
        call.prompt_ttl,
        &state.cache_rules,
    )?;
    drop(cache_field);
    body.strip_extensions(endpoint == Endpoint::Responses);

    if let Some(rewritten) = &route.rewritten_model {
        let value =
            serde_json::value::to_raw_value(rewritten.as_ref()).map_err(ApiError::internal)?;
        body.set("model", value);
    }
    let client_wants_usage = !stream
        || !endpoint.usage_needs_asking()
        || body
            .get("stream_options")
            .and_then(|o| serde_json::from_str::<serde_json::Value>(o.get()).ok())
            .and_then(|o| o.get("include_usage").and_then(serde_json::Value::as_bool))
            .unwrap_or(false);
    Ok(Plan {
        model,
        upstream,
        stream,
        client_wants_usage,
        cache,
        fallbacks,
    })
}

/// The alias's further targets this call may go to: those that route, that
/// the key may call, and that speak the endpoint's API.
fn fallbacks(call: &Call<'_>, targets: &[String]) -> Vec<Fallback> {
    targets
        .iter()
        .filter(|model| call.caller.may_call(model))
        .filter_map(|model| {
            let route = call.state.routes.resolve(model)?;
            if call.endpoint == Endpoint::Messages && !route.upstream.speaks_messages() {
                return None;
            }
            Some(Fallback {
                model: model.clone(),
                upstream: route.upstream.clone(),
                rewritten: route.rewritten_model.map(|m| m.into_owned()),
            })
        })
        .collect()
}

/// A call without `model`. The Responses API accepts one (a stored `prompt`,
/// `previous_response_id` or `conversation` names the model upstream), so it
/// goes to the catch-all upstream as the client sent it; the record takes the
/// model from the answer. Every other endpoint needs a model.
fn model_less(call: &mut Call<'_>, body: &mut RequestBody<'_>) -> Result<Plan, ApiError> {
    let missing = || ApiError::invalid("you must provide a model parameter", Some("model"));
    if call.endpoint != Endpoint::Responses {
        return Err(missing());
    }
    let upstream = call
        .state
        .routes
        .default_upstream()
        .ok_or_else(|| {
            ApiError::invalid(
                "you must provide a model parameter (a call without one goes to the catch-all upstream, models = [\"*\"], and none is configured)",
                Some("model"),
            )
        })?
        .clone();
    let stream = body.bool_field("stream")?.unwrap_or(false);
    call.recorder.set_upstream(&upstream.name, stream);
    call.recorder.trace().routed(upstream.kind.provider_name());
    take_metadata(call, body)?;
    body.strip_extensions(true);
    Ok(Plan {
        model: String::new(),
        upstream,
        stream,
        // the Responses API always reports usage
        client_wants_usage: true,
        // no model to key and price an answer by: never cached
        cache: None,
        fallbacks: Vec::new(),
    })
}

/// Records `metadata` (and its `tags`). It is promptgate's (recorded, not
/// forwarded) unless the call is stored by OpenAI, where `metadata` belongs
/// to OpenAI: chat with `store: true`, and the Responses API, which stores
/// unless told not to. On the Messages API `metadata` is Anthropic's own
/// (`user_id`): recorded and forwarded.
fn take_metadata(call: &mut Call<'_>, body: &mut RequestBody<'_>) -> Result<(), ApiError> {
    let store_default = matches!(call.endpoint, Endpoint::Responses | Endpoint::Messages);
    let keep_metadata = body.bool_field("store")?.unwrap_or(store_default);
    let metadata = if keep_metadata {
        body.get("metadata").map(|m| m.get().to_owned())
    } else {
        body.take("metadata").map(|m| m.get().to_owned())
    };
    if let Some(m) = metadata.filter(|m| m != "null") {
        if let Ok(serde_json::Value::Object(obj)) = serde_json::from_str::<serde_json::Value>(&m) {
            let tags = obj
                .get("tags")
                .and_then(|t| t.as_array())
                .into_iter()
                .flatten();
            let tags = tags.filter_map(|t| t.as_str().map(str::to_owned)).collect();
            call.recorder.set_tags(tags);
        }
        call.recorder.set_metadata(m);
    }
    Ok(())
}
