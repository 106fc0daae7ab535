//! E-mail: the templates of each notification type (`api/templates/email`, minijinja: a subject,
//! a text and an HTML body, framed by `layout.j2` with a link back to the app and an unsubscribe
//! link) and the SMTP client that sends them (lettre; STARTTLS when the server offers it).

use std::time::Duration;

use lettre::message::header::{HeaderName, HeaderValue};
use lettre::message::{Mailbox, MultiPart};
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Tls, TlsParameters};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use minijinja::{AutoEscape, Environment, Value as J};
use serde_json::Value;

/// A rendered e-mail.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rendered {
    pub subject: String,
    pub text: String,
    pub html: String,
}

/// What frames a message: who it greets and where its links go.
#[derive(Debug, Clone)]
pub struct Frame {
    pub name: String,
    /// The page in the app the notification is about.
    pub link: String,
    pub unsubscribe_url: String,
    pub settings_url: String,
    /// Why the user gets it ("you turned on e-mail for backtest results").
    pub reason: String,
}

const SOURCES: &[(&str, &str)] = &[
    ("layout.j2", include_str!("../../../templates/email/layout.j2")),
    ("digest.j2", include_str!("../../../templates/email/digest.j2")),
    ("backtest_complete.j2", include_str!("../../../templates/email/backtest_complete.j2")),
    ("backtest_failed.j2", include_str!("../../../templates/email/backtest_failed.j2")),
    ("paper_trade_alert.j2", include_str!("../../../templates/email/paper_trade_alert.j2")),
    ("governance_task.j2", include_str!("../../../templates/email/governance_task.j2")),
    ("template_shared.j2", include_str!("../../../templates/email/template_shared.j2")),
    ("system.j2", include_str!("../../../templates/email/system.j2")),
];

fn number(v: J, decimals: usize, suffix: &str) -> String {
    match f64::try_from(v) {
        Ok(x) if x.is_finite() => format!("{x:.decimals$}{suffix}"),
        _ => "–".into(),
    }
}

fn environment(html: bool) -> Environment<'static> {
    let mut env = Environment::new();
    // before the templates are added: each is compiled with the escape its name gets then
    env.set_auto_escape_callback(move |_| if html { AutoEscape::Html } else { AutoEscape::None });
    env.add_function("pct", |v: J| number(v, 2, " %"));
    env.add_function("num", |v: J| number(v, 2, ""));
    // at most `n` characters, an ellipsis marking the cut (for subjects)
    env.add_filter("truncate", |s: String, n: usize| if s.chars().count() <= n { s } else { format!("{}…", s.chars().take(n.saturating_sub(1)).collect::<String>().trim_end()) });
    for (name, source) in SOURCES {
        env.add_template(name, source).expect("the e-mail templates parse");
    }
    env
}

/// The e-mail templates, compiled once: one environment escapes for HTML, the other writes text.
pub struct Templates {
    text: Environment<'static>,
    html: Environment<'static>,
}

impl Default for Templates {
    fn default() -> Self {
        Templates { text: environment(false), html: environment(true) }
    }
}

impl std::fmt::Debug for Templates {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Templates")
    }
}

impl Templates {
    /// Renders template `name` (a notification type, or `digest`) over `vars`, framed by the layout.
    pub fn render(&self, name: &str, vars: &Value, frame: &Frame) -> Result<Rendered, minijinja::Error> {
        let file = format!("{name}.j2");
        let block = |env: &Environment<'static>, block: &str| -> Result<String, minijinja::Error> {
            render_block(env, &file, minijinja::Value::from_serialize(vars), block).map(|s| s.trim().to_string())
        };
        let subject = block(&self.text, "subject")?.split_whitespace().collect::<Vec<_>>().join(" ");
        let headline = block(&self.text, "headline")?;
        // the links are the platform's own (public URL, ids, URL-safe tokens): written as they are,
        // not with the `/` → `&#x2f;` of the HTML escape, so that they read the same in both bodies
        let url = |u: &str| J::from_safe_string(u.replace('&', "&amp;").replace('"', "&quot;").replace('<', "%3C").replace('>', "%3E"));
        let frame_vars = |details: J, headline: String| {
            minijinja::context! { name => frame.name, headline, details, link => url(&frame.link), unsubscribe_url => url(&frame.unsubscribe_url),
                settings_url => url(&frame.settings_url), reason => frame.reason, subject => subject }
        };
        let text_details = block(&self.text, "text")?;
        let text = render_block(&self.text, "layout.j2", frame_vars(J::from(text_details), headline.clone()), "text")?;
        let html_details = block(&self.html, "html")?;
        let html_headline = block(&self.html, "headline")?;
        let html = render_block(&self.html, "layout.j2", frame_vars(J::from_safe_string(html_details), html_headline), "html")?;
        Ok(Rendered { subject, text: text.trim().to_string() + "\n", html: html.trim().to_string() + "\n" })
    }
}

/// One block of a template, rendered over `vars`.
fn render_block(env: &Environment<'static>, template: &str, vars: J, block: &str) -> Result<String, minijinja::Error> {
    let mut captured = env.get_template(template)?.render_captured(vars)?;
    captured.with_state_mut(|state| state.render_block(block))
}

/// Why a message was not sent.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{message}")]
pub struct SendError {
    /// A retry may pass (4xx reply, connection trouble, timeout); else the server refused for good.
    pub transient: bool,
    /// The SMTP reply code, when the server answered.
    pub code: Option<i32>,
    pub message: String,
}

/// An SMTP client.
#[derive(Clone)]
pub struct Mailer {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
    /// `host:port`, for messages.
    pub server: String,
}

impl std::fmt::Debug for Mailer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Mailer").field("server", &self.server).field("from", &self.from.to_string()).finish()
    }
}

impl Mailer {
    /// A client of `url`: `smtp://[user:pass@]host[:port]` (port 587 by default; STARTTLS when
    /// offered) or `smtps://…` (port 465, TLS from the start). `from` is the sender.
    pub fn new(url: &url::Url, from: &str, ca_file: Option<&std::path::Path>) -> Result<Mailer, String> {
        let from: Mailbox = from.parse().map_err(|e| format!("BB_MAIL_FROM '{from}' is not a mailbox: {e}"))?;
        let host = url.host_str().ok_or_else(|| format!("BB_SMTP_URL '{url}' has no host"))?.to_string();
        let ca = match ca_file {
            Some(p) => {
                let pem = std::fs::read(p).map_err(|e| format!("BB_SMTP_CA_FILE {}: {e}", p.display()))?;
                Some(lettre::transport::smtp::client::Certificate::from_pem(&pem).map_err(|e| format!("BB_SMTP_CA_FILE {}: not a PEM certificate: {e}", p.display()))?)
            }
            None => None,
        };
        let tls_params = || {
            let mut b = TlsParameters::builder(host.clone());
            if let Some(c) = ca.clone() {
                b = b.add_root_certificate(c);
            }
            b.build_rustls().map_err(|e| format!("TLS for {host}: {e}"))
        };
        let (tls, port) = match url.scheme() {
            "smtp" => (Tls::Opportunistic(tls_params()?), url.port().unwrap_or(587)),
            "smtps" => (Tls::Wrapper(tls_params()?), url.port().unwrap_or(465)),
            s => return Err(format!("BB_SMTP_URL must be smtp:// or smtps://, not {s}://")),
        };
        let mut b = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(host.clone()).port(port).tls(tls).timeout(Some(Duration::from_secs(30)));
        if !url.username().is_empty() {
            let decode = |s: &str| percent_decode(s);
            b = b.credentials(Credentials::new(decode(url.username()), decode(url.password().unwrap_or_default())));
        }
        Ok(Mailer { transport: b.build(), from, server: format!("{host}:{port}") })
    }

    /// Sends `message` to `to`, with one-click unsubscribe headers (RFC 2369, RFC 8058). Returns
    /// the server's reply code.
    pub async fn send(&self, to: &str, message: &Rendered, unsubscribe_url: &str) -> Result<i32, SendError> {
        let permanent = |message: String| SendError { transient: false, code: None, message };
        let to: Mailbox = to.parse().map_err(|e| permanent(format!("'{to}' is not an e-mail address: {e}")))?;
        let email = Message::builder()
            .from(self.from.clone())
            .to(to)
            .subject(message.subject.clone())
            .raw_header(HeaderValue::new(HeaderName::new_from_ascii_str("List-Unsubscribe"), format!("<{unsubscribe_url}>")))
            .raw_header(HeaderValue::new(HeaderName::new_from_ascii_str("List-Unsubscribe-Post"), "List-Unsubscribe=One-Click".into()))
            .raw_header(HeaderValue::new(HeaderName::new_from_ascii_str("Auto-Submitted"), "auto-generated".into()))
            .multipart(MultiPart::alternative_plain_html(message.text.clone(), message.html.clone()))
            .map_err(|e| permanent(format!("the message could not be built: {e}")))?;
        match self.transport.send(email).await {
            Ok(r) => Ok(r.code().to_string().parse().unwrap_or(250)),
            Err(e) => {
                let code = e.status().and_then(|c| c.to_string().parse().ok());
                Err(SendError { transient: !e.is_permanent(), code, message: format!("SMTP {}: {e}", self.server) })
            }
        }
    }
}

/// A URL's user or password as written, `%XX` escapes decoded.
fn percent_decode(s: &str) -> String {
    percent_encoding::percent_decode_str(s).decode_utf8_lossy().into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn frame() -> Frame {
        Frame { name: "Ada".into(), link: "http://app/backtests/1".into(), unsubscribe_url: "http://app/u?t=x".into(), settings_url: "http://app/settings".into(), reason: "you asked".into() }
    }

    #[test]
    fn every_type_renders_subject_text_and_escaped_html() {
        let t = Templates::default();
        let r = t
            .render("backtest_complete", &json!({"n": {"symbol": "BTC/USDT", "timeframe": "1h", "exchange": "binance", "totalReturnPct": 12.345, "sharpe": 1.5, "maxDrawdownPct": -3.0, "trades": 7, "anomalies": []}}), &frame())
            .unwrap();
        assert_eq!(r.subject, "Backtest finished: BTC/USDT 1h on binance");
        assert!(r.text.starts_with("Hello Ada,"), "{}", r.text);
        assert!(r.text.contains("Total return: 12.35 %"), "{}", r.text);
        assert!(r.text.contains("Stop these e-mails: http://app/u?t=x"));
        assert!(r.html.contains("<strong>12.35 %</strong>"), "{}", r.html);
        assert!(r.html.contains(r#"href="http://app/u?t=x""#));
        let evil = t.render("system", &json!({"n": {"message": "<script>alert(1)</script> & co"}}), &frame()).unwrap();
        assert!(evil.html.contains("&lt;script&gt;"), "{}", evil.html);
        assert!(!evil.html.contains("<script>"));
        assert!(evil.text.contains("<script>alert(1)</script> & co"), "the text body is not escaped: {}", evil.text);
        for kind in crate::model::NotificationType::ALL {
            let r = t.render(kind.as_str(), &json!({"n": {"message": "m", "task": "takedown"}}), &frame()).unwrap();
            assert!(!r.subject.is_empty() && !r.subject.contains('\n'), "{kind}: {r:?}");
        }
        let long = t.render("system", &json!({"n": {"message": "x".repeat(200)}}), &frame()).unwrap();
        assert_eq!(long.subject.chars().count(), 90, "{}", long.subject);
        assert!(long.subject.ends_with('…'));
    }

    /// The pooled SMTP client lives on the tokio runtime, as in `bb serve` and `bb worker`.
    #[tokio::test]
    async fn smtp_urls_are_checked() {
        let u = |s: &str| url::Url::parse(s).unwrap();
        assert_eq!(Mailer::new(&u("smtp://127.0.0.1:2525"), "Blockbuilders <n@example.com>", None).unwrap().server, "127.0.0.1:2525");
        assert_eq!(Mailer::new(&u("smtps://mail.example.com"), "n@example.com", None).unwrap().server, "mail.example.com:465");
        assert!(Mailer::new(&u("http://x"), "n@example.com", None).unwrap_err().contains("smtp://"));
        assert!(Mailer::new(&u("smtp://x"), "not an address", None).unwrap_err().contains("BB_MAIL_FROM"));
        assert_eq!(percent_decode("a%40b%2"), "a@b%2");
    }
}
