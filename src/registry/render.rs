//! Rendering a version with a request's variables.
//!
//! Handlebars, strict (a variable the template uses but the request lacks is an
//! error naming it), **no HTML escaping** (prompts are not HTML: `&` must stay `&`).
//!
//! # Roles cannot be forged
//!
//! Variable values are data. Handlebars never re-parses a value as template
//! code, so `{{role "system"}}` inside a value is just text. The remaining risk
//! is the split into messages: a `{{role "…"}}` marker in the template must
//! start a new message, and nothing a value contains may look like one. So the
//! `role` helper does not emit a fixed token: for every render it writes a
//! marker built from a fresh 128-bit random nonce (`\0pgrole:<nonce>:<role>\0`),
//! and the output is split on that exact marker. Values are checked not to
//! contain it (they cannot guess it; the check makes it a guarantee), templates
//! may not contain NUL at all, and the role named by a marker must be a string
//! literal in the template — `{{role some_variable}}` is rejected at compile
//! time, so a value can never choose a role either. Chat-template tokens in
//! values (`<|im_start|>system`, `system:` lines, …) pass through as plain text
//! inside whatever message the template put them in.
//!
//! Templates are compiled once per version ([`CompiledPrompt`]); a request only
//! validates variables and renders. Templates without role markers skip the
//! nonce entirely.

use std::fmt::Write as _;

use handlebars::template::{HelperTemplate, Parameter, TemplateElement};
use handlebars::{
    Context, Handlebars, Helper, HelperDef, HelperResult, Output, RenderContext, RenderErrorReason,
    Renderable, StringOutput, Template,
};
use serde_json::{Map, Value};

use super::model::{Message, PromptContent, PromptKind, PromptVersion, Role};
use super::schema::{VarError, VariablesSchema};

/// Name of the role-marker helper in dotprompt bodies.
const ROLE_HELPER: &str = "role";
/// Starts every marker; templates may not contain NUL so literal text cannot forge one.
const MARKER_PREFIX: &str = "\0pgrole:";
const MARKER_END: char = '\0';

/// A rendered prompt, ready to become the upstream body's `messages` or `prompt`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Rendered {
    Messages(Vec<Message>),
    Text(String),
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RenderError {
    /// Variables do not fit the version's schema (a 400 naming the variable).
    #[error(transparent)]
    Var(#[from] VarError),
    /// The template uses a variable the request did not send.
    #[error("missing prompt variable `{name}` (used in {field})")]
    MissingVariable { name: String, field: String },
    /// Template syntax error (at version creation).
    #[error("{field}: template error: {message}")]
    Template { field: String, message: String },
    /// Misused `{{role}}` marker (at version creation).
    #[error("{field}: {message}")]
    RoleMarker { field: String, message: String },
    /// Any other failure while rendering (e.g. `{{#each}}` over a number).
    #[error("{field}: render error: {message}")]
    Render { field: String, message: String },
}

impl RenderError {
    /// Which part of the version (`messages[1].content`, `template`, …) or,
    /// for variable errors, which variable.
    pub fn field(&self) -> String {
        match self {
            RenderError::Var(e) => e.variable().to_string(),
            RenderError::MissingVariable { name, .. } => name.clone(),
            RenderError::Template { field, .. }
            | RenderError::RoleMarker { field, .. }
            | RenderError::Render { field, .. } => field.clone(),
        }
    }
}

/// One compiled template and where it came from.
struct Part {
    template: Template,
    /// Role of a chat message; `None` for a text prompt.
    role: Option<Role>,
    /// `messages[i].content` or `template`, for error messages.
    field: String,
    /// Contains `{{role}}` markers (needs the nonce and the split).
    has_markers: bool,
}

/// A version's templates, compiled once and rendered per request. Cheap to
/// share (`Send + Sync`); keep one per cached version.
pub struct CompiledPrompt {
    registry: Handlebars<'static>,
    parts: Vec<Part>,
    schema: VariablesSchema,
    /// Optional variables the request may omit; set to `null` for rendering so
    /// `{{#if x}}` works in strict mode.
    optional: Vec<String>,
    is_text: bool,
}

impl std::fmt::Debug for CompiledPrompt {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CompiledPrompt")
            .field(
                "parts",
                &self.parts.iter().map(|p| &p.field).collect::<Vec<_>>(),
            )
            .finish_non_exhaustive()
    }
}

/// Render once without keeping the compiled form (dry runs, tests). The request
/// path should hold a [`CompiledPrompt`] instead.
pub fn render(version: &PromptVersion, vars: &Map<String, Value>) -> Result<Rendered, RenderError> {
    CompiledPrompt::compile(version)?.render(vars)
}

fn new_registry() -> Handlebars<'static> {
    let mut hb = Handlebars::new();
    hb.set_strict_mode(true);
    hb.register_escape_fn(handlebars::no_escape);
    hb
}

impl CompiledPrompt {
    pub fn compile(version: &PromptVersion) -> Result<CompiledPrompt, RenderError> {
        Self::compile_content(&version.content())
    }

    pub fn compile_content(content: &PromptContent) -> Result<CompiledPrompt, RenderError> {
        let mut parts = Vec::new();
        let is_text = matches!(content.kind, PromptKind::Text { .. });
        match &content.kind {
            PromptKind::Chat { messages } => {
                for (i, m) in messages.iter().enumerate() {
                    parts.push(compile_part(
                        &m.content,
                        Some(m.role),
                        format!("messages[{i}].content"),
                    )?);
                }
            }
            PromptKind::Text { template } => {
                parts.push(compile_part(template, None, "template".to_string())?);
            }
        }
        let optional = content
            .variables_schema
            .vars()
            .iter()
            .filter(|(_, s)| s.optional)
            .map(|(n, _)| n.clone())
            .collect();
        Ok(CompiledPrompt {
            registry: new_registry(),
            parts,
            schema: content.variables_schema.clone(),
            optional,
            is_text,
        })
    }

    /// Validate `vars` against the schema, then render.
    pub fn render(&self, vars: &Map<String, Value>) -> Result<Rendered, RenderError> {
        self.schema.validate(vars)?;
        let mut data = vars.clone();
        for name in &self.optional {
            data.entry(name.clone()).or_insert(Value::Null);
        }
        let ctx = Context::from(Value::Object(data));

        let marker = if self.parts.iter().any(|p| p.has_markers) {
            Some(fresh_marker(vars))
        } else {
            None
        };

        if self.is_text {
            let mut out = String::new();
            for part in &self.parts {
                out.push_str(&self.render_part(part, &ctx, None)?);
            }
            return Ok(Rendered::Text(out));
        }

        let mut messages = Vec::with_capacity(self.parts.len());
        for part in &self.parts {
            let role = part.role.unwrap_or(Role::User);
            let text =
                self.render_part(part, &ctx, marker.as_deref().filter(|_| part.has_markers))?;
            match marker.as_deref().filter(|_| part.has_markers) {
                Some(m) => split_on_markers(&text, m, role, &mut messages),
                None => push_message(&mut messages, role, text, false),
            }
        }
        Ok(Rendered::Messages(messages))
    }

    fn render_part(
        &self,
        part: &Part,
        ctx: &Context,
        marker: Option<&str>,
    ) -> Result<String, RenderError> {
        let mut rc = RenderContext::new(None);
        if let Some(m) = marker {
            rc.register_local_helper(
                ROLE_HELPER,
                Box::new(RoleHelper {
                    marker: m.to_string(),
                }),
            );
        }
        let mut out = StringOutput::new();
        part.template
            .render(&self.registry, ctx, &mut rc, &mut out)
            .map_err(|e| map_render_error(e, &part.field, ctx))?;
        out.into_string().map_err(|e| RenderError::Render {
            field: part.field.clone(),
            message: e.to_string(),
        })
    }

    /// The schema the variables are checked against.
    pub fn schema(&self) -> &VariablesSchema {
        &self.schema
    }
}

fn map_render_error(e: handlebars::RenderError, field: &str, ctx: &Context) -> RenderError {
    match e.reason() {
        // Strict mode also reports "missing" for a present value used the wrong
        // way (`{{#each n}}` over a number): only call it missing when it is.
        RenderErrorReason::MissingVariable(Some(path))
            if ctx.data().get(path.split(['.', '/', '[']).next().unwrap_or(path)).is_some() =>
        {
            RenderError::Render {
                field: field.to_string(),
                message: format!("variable `{path}` cannot be used this way here (e.g. {{{{#each}}}} over a value that is not a list)"),
            }
        }
        RenderErrorReason::MissingVariable(path) => RenderError::MissingVariable {
            name: path.clone().unwrap_or_else(|| "?".to_string()),
            field: field.to_string(),
        },
        _ => RenderError::Render {
            field: field.to_string(),
            message: e.to_string(),
        },
    }
}

/// `\0pgrole:<32 hex>:` with a fresh nonce, re-drawn in the (2^-128) case that
/// some value contains it — so no value can ever contain the marker in use.
fn fresh_marker(vars: &Map<String, Value>) -> String {
    loop {
        let nonce: u128 = rand::random();
        let mut m = String::with_capacity(MARKER_PREFIX.len() + 33);
        m.push_str(MARKER_PREFIX);
        let _ = write!(m, "{nonce:032x}:");
        if !vars.values().any(|v| value_contains(v, &m)) {
            return m;
        }
    }
}

fn value_contains(v: &Value, needle: &str) -> bool {
    match v {
        Value::String(s) => s.contains(needle),
        Value::Array(a) => a.iter().any(|x| value_contains(x, needle)),
        // Keys can be printed too (`{{#each obj}}{{@key}}`).
        Value::Object(o) => o
            .iter()
            .any(|(k, x)| k.contains(needle) || value_contains(x, needle)),
        _ => false,
    }
}

/// Split rendered text on role markers. Text before the first marker keeps the
/// stored message's role. Segments are trimmed (the newline after
/// `{{role "user"}}` is layout, not content) and whitespace-only ones dropped
/// (a marker inside a false `{{#if}}` leaves nothing behind).
fn split_on_markers(text: &str, marker: &str, first_role: Role, out: &mut Vec<Message>) {
    let mut pieces = text.split(marker);
    if let Some(first) = pieces.next() {
        push_message(out, first_role, first.to_string(), true);
    }
    for piece in pieces {
        // The helper wrote `<role>\0` right after the marker; roles are from a
        // fixed list and values cannot produce the marker, so this always parses.
        let Some((role, content)) = piece.split_once(MARKER_END) else {
            continue;
        };
        let role = Role::parse(role).unwrap_or(Role::User);
        push_message(out, role, content.to_string(), true);
    }
}

fn push_message(out: &mut Vec<Message>, role: Role, content: String, trim: bool) {
    if content.trim().is_empty() {
        return;
    }
    let content = if trim {
        content.trim().to_string()
    } else {
        content
    };
    out.push(Message { role, content });
}

/// The per-render `{{role "x"}}` helper.
struct RoleHelper {
    marker: String,
}

impl HelperDef for RoleHelper {
    fn call<'reg: 'rc, 'rc>(
        &self,
        h: &Helper<'rc>,
        _: &'reg Handlebars<'reg>,
        _: &'rc Context,
        _: &mut RenderContext<'reg, 'rc>,
        out: &mut dyn Output,
    ) -> HelperResult {
        // Compile-time checks guarantee one string-literal parameter naming a
        // known role; re-check so a value can never reach this point as a role.
        let role = h
            .param(0)
            .and_then(|p| p.try_get_constant_value())
            .and_then(Value::as_str)
            .and_then(Role::parse)
            .ok_or_else(|| RenderErrorReason::Other("invalid role marker".to_string()))?;
        out.write(&self.marker)?;
        out.write(role.as_str())?;
        out.write("\0")?;
        Ok(())
    }
}

fn compile_part(src: &str, role: Option<Role>, field: String) -> Result<Part, RenderError> {
    if src.contains('\0') {
        return Err(RenderError::Template {
            field,
            message: "templates may not contain NUL characters".to_string(),
        });
    }
    let template =
        Template::compile_with_name(src, field.clone()).map_err(|e| RenderError::Template {
            field: field.clone(),
            message: e.to_string(),
        })?;
    let mut markers = 0usize;
    check_elements(&template.elements, &field, role.is_none(), &mut markers)?;
    Ok(Part {
        template,
        role,
        field,
        has_markers: markers > 0,
    })
}

/// Walk the template (blocks, inverses, subexpressions) for `role` helper
/// uses: each must be `{{role "<system|developer|user|assistant>"}}` with a
/// literal, and none may appear in a text prompt.
fn check_elements(
    elements: &[TemplateElement],
    field: &str,
    is_text: bool,
    markers: &mut usize,
) -> Result<(), RenderError> {
    for el in elements {
        match el {
            TemplateElement::Expression(h)
            | TemplateElement::HtmlExpression(h)
            | TemplateElement::HelperBlock(h) => {
                check_helper(h, field, is_text, markers)?;
                let block = matches!(el, TemplateElement::HelperBlock(_));
                if block && is_role(&h.name) {
                    return Err(role_err(
                        field,
                        "`role` is not a block helper: write {{role \"user\"}}",
                    ));
                }
            }
            TemplateElement::DecoratorExpression(d)
            | TemplateElement::DecoratorBlock(d)
            | TemplateElement::PartialExpression(d)
            | TemplateElement::PartialBlock(d) => {
                for p in d.params.iter().chain(d.hash.values()) {
                    check_param(p, field, is_text, markers)?;
                }
                if let Some(t) = &d.template {
                    check_elements(&t.elements, field, is_text, markers)?;
                }
            }
            // Text, comments, and (non_exhaustive) constructs a later handlebars
            // may add: a `role` hidden in one is still safe, because the helper
            // exists only when a marker was counted here, and it re-checks its
            // parameter is a literal.
            _ => {}
        }
    }
    Ok(())
}

fn is_role(name: &Parameter) -> bool {
    matches!(name, Parameter::Name(n) if n == ROLE_HELPER)
        || matches!(name, Parameter::Path(handlebars::Path::Relative((_, raw))) if raw == ROLE_HELPER)
}

fn role_err(field: &str, message: &str) -> RenderError {
    RenderError::RoleMarker {
        field: field.to_string(),
        message: message.to_string(),
    }
}

fn check_helper(
    h: &HelperTemplate,
    field: &str,
    is_text: bool,
    markers: &mut usize,
) -> Result<(), RenderError> {
    if is_role(&h.name) {
        if is_text {
            return Err(role_err(
                field,
                "role markers are only allowed in chat prompts",
            ));
        }
        let literal = match (h.params.as_slice(), h.hash.is_empty()) {
            ([Parameter::Literal(Value::String(r))], true) => Some(r.as_str()),
            _ => None,
        };
        match literal {
            Some(r) if Role::parse(r).is_some() => *markers += 1,
            Some(r) => {
                return Err(role_err(
                    field,
                    &format!("unknown role \"{r}\" in {{{{role}}}} (expected system, developer, user or assistant)"),
                ))
            }
            None => {
                return Err(role_err(
                    field,
                    "{{role}} takes exactly one string literal, e.g. {{role \"user\"}} (never a variable)",
                ))
            }
        }
    }
    for p in h.params.iter().chain(h.hash.values()) {
        check_param(p, field, is_text, markers)?;
    }
    if let Some(t) = &h.template {
        check_elements(&t.elements, field, is_text, markers)?;
    }
    if let Some(t) = &h.inverse {
        check_elements(&t.elements, field, is_text, markers)?;
    }
    Ok(())
}

fn check_param(
    p: &Parameter,
    field: &str,
    is_text: bool,
    markers: &mut usize,
) -> Result<(), RenderError> {
    if let Parameter::Subexpression(sub) = p {
        if is_role(&Parameter::Name(sub.name().to_string())) {
            return Err(role_err(
                field,
                "{{role}} cannot be used as a subexpression",
            ));
        }
        check_elements(
            std::slice::from_ref(sub.as_element()),
            field,
            is_text,
            markers,
        )?;
    }
    Ok(())
}

#[cfg(test)]
mod tests;
