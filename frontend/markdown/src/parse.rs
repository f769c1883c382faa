//! Markdown text into HTML (pulldown-cmark). Single line breaks stay breaks, as people write
//! chat; quoted speech ("…", “…”) gets a class of its own for a subtle style. What a message
//! can become is only what this file writes: raw HTML in a message is text (escaped), images are
//! not fetched (a reply could track its reader), and only web and mail links are links, opening
//! in a new tab that is not handed this page.

use pulldown_cmark::{CodeBlockKind, Event, Options, Parser, Tag};
use pulldown_cmark_escape::escape_html;

/// `text` as HTML, safe to put in the page.
pub fn to_html(text: &str) -> String {
    let mut out = String::with_capacity(text.len() * 5 / 4);
    for node in parse(text) {
        write(&mut out, &node);
    }
    out
}

/// Web and mail links only: no `javascript:`, `data:` or relative tricks.
pub fn is_safe_link(url: &str) -> bool {
    let url = url.trim_start().to_ascii_lowercase();
    url.starts_with("https://") || url.starts_with("http://") || url.starts_with("mailto:")
}

/// An element (`tag` set) or, with no tag, the text `text`.
#[derive(Debug, Default)]
struct Node {
    tag: &'static str,
    text: String,
    attrs: Vec<(&'static str, String)>,
    children: Vec<Node>,
}

fn write(out: &mut String, node: &Node) {
    if node.tag.is_empty() {
        escape_html(&mut *out, &node.text).expect("writing to a string");
        return;
    }
    out.push('<');
    out.push_str(node.tag);
    for (name, value) in &node.attrs {
        out.push(' ');
        out.push_str(name);
        out.push_str("=\"");
        escape_html(&mut *out, value).expect("writing to a string");
        out.push('"');
    }
    if matches!(node.tag, "br" | "hr") {
        out.push_str(" />");
        return;
    }
    out.push('>');
    for child in &node.children {
        write(out, child);
    }
    out.push_str("</");
    out.push_str(node.tag);
    out.push('>');
}

fn parse(text: &str) -> Vec<Node> {
    let mut stack: Vec<(Option<Tag>, Vec<Node>)> = vec![(None, Vec::new())];
    for event in Parser::new_ext(text, Options::ENABLE_STRIKETHROUGH) {
        match event {
            Event::Start(tag) => stack.push((Some(tag), Vec::new())),
            Event::End(_) => {
                let (tag, children) = stack.pop().expect("every end has its start");
                let nodes = element(tag.expect("a started tag"), children);
                stack.last_mut().expect("the root stays").1.extend(nodes);
            }
            Event::Text(text) => {
                let in_code = stack.iter().any(|(tag, _)| matches!(tag, Some(Tag::CodeBlock(_))));
                let nodes = if in_code { vec![text_node(&text)] } else { speech(&text) };
                stack.last_mut().expect("the root stays").1.extend(nodes);
            }
            Event::Code(code) => push(&mut stack, tagged("code", vec![], vec![text_node(&code)])),
            // Markup in a message is words, shown as written.
            Event::Html(raw) | Event::InlineHtml(raw) => push(&mut stack, text_node(&raw)),
            Event::SoftBreak | Event::HardBreak => push(&mut stack, tagged("br", vec![], vec![])),
            Event::Rule => push(&mut stack, tagged("hr", vec![], vec![])),
            _ => {}
        }
    }
    stack.pop().expect("the root").1
}

fn push(stack: &mut [(Option<Tag>, Vec<Node>)], node: Node) {
    stack.last_mut().expect("the root stays").1.push(node);
}

fn text_node(text: &str) -> Node {
    Node { text: text.to_owned(), ..Node::default() }
}

fn tagged(tag: &'static str, attrs: Vec<(&'static str, String)>, children: Vec<Node>) -> Node {
    Node { tag, attrs, children, ..Node::default() }
}

/// The nodes a closed tag becomes.
fn element(tag: Tag, children: Vec<Node>) -> Vec<Node> {
    let node = match tag {
        Tag::Paragraph => tagged("p", vec![], children),
        Tag::Heading { .. } => {
            tagged("p", vec![("class", "md-heading".into())], vec![tagged("strong", vec![], children)])
        }
        Tag::BlockQuote(_) => tagged("blockquote", vec![], children),
        Tag::CodeBlock(kind) => {
            let language = match kind {
                CodeBlockKind::Fenced(language) if !language.is_empty() => {
                    vec![("data-language", language.to_string())]
                }
                _ => vec![],
            };
            tagged("pre", vec![], vec![tagged("code", language, children)])
        }
        Tag::List(Some(start)) => tagged("ol", vec![("start", start.to_string())], children),
        Tag::List(None) => tagged("ul", vec![], children),
        Tag::Item => tagged("li", vec![], children),
        Tag::Emphasis => tagged("em", vec![], children),
        Tag::Strong => tagged("strong", vec![], children),
        Tag::Strikethrough => tagged("del", vec![], children),
        Tag::Link { dest_url, .. } if is_safe_link(&dest_url) => tagged(
            "a",
            vec![("href", dest_url.to_string()), ("target", "_blank".into()), ("rel", "noopener noreferrer".into())],
            children,
        ),
        // Images are not fetched (a reply could track its reader), unsafe links not linked:
        // their words stay.
        _ => return children,
    };
    vec![node]
}

/// Text with quoted speech set apart.
fn speech(text: &str) -> Vec<Node> {
    let mut nodes = Vec::new();
    let mut rest = text;
    while let Some(open) = rest.find(['"', '“']) {
        let open_len = rest[open..].chars().next().map_or(1, char::len_utf8);
        let after = &rest[open + open_len..];
        let Some(close) = after.find(['"', '”']) else { break };
        let close_len = after[close..].chars().next().map_or(1, char::len_utf8);
        if open > 0 {
            nodes.push(text_node(&rest[..open]));
        }
        let quoted = &rest[open..open + open_len + close + close_len];
        nodes.push(tagged("span", vec![("class", "speech".into())], vec![text_node(quoted)]));
        rest = &after[close + close_len..];
    }
    if !rest.is_empty() {
        nodes.push(text_node(rest));
    }
    nodes
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emphasis_lists_code_quotes_and_links() {
        let html =
            to_html("*she smiles* and **laughs**\n\n- one\n- two\n\n`x` and\n```rust\nfn f() {}\n```\n\n> quoted");
        assert_eq!(
            html,
            "<p><em>she smiles</em> and <strong>laughs</strong></p><ul><li>one</li><li>two</li></ul>\
             <p><code>x</code> and</p><pre><code data-language=\"rust\">fn f() {}\n</code></pre>\
             <blockquote><p>quoted</p></blockquote>"
        );
        assert_eq!(
            to_html("[site](https://example.org/?a=1&b=2)"),
            "<p><a href=\"https://example.org/?a=1&amp;b=2\" target=\"_blank\" rel=\"noopener noreferrer\">site</a></p>"
        );
    }

    #[test]
    fn markup_is_text_and_bad_links_and_images_are_words() {
        assert_eq!(
            to_html("<script>alert(1)</script> and <b onclick=\"x\">bold</b>"),
            "&lt;script&gt;alert(1)&lt;/script&gt; and &lt;b onclick=&quot;x&quot;&gt;bold&lt;/b&gt;"
        );
        assert_eq!(to_html("She *smiles* <i>shyly</i>"), "<p>She <em>smiles</em> &lt;i&gt;shyly&lt;/i&gt;</p>");
        assert_eq!(to_html("[click](javascript:alert(1))"), "<p>click</p>");
        assert_eq!(to_html("![a cat](https://tracker.example/cat.png)"), "<p>a cat</p>");
        assert_eq!(to_html("<img src=x onerror=alert(1)>"), "&lt;img src=x onerror=alert(1)&gt;");
    }

    #[test]
    fn line_breaks_stay_and_speech_is_marked() {
        assert_eq!(to_html("one\ntwo"), "<p>one<br />two</p>");
        assert_eq!(
            to_html("She said \"hi\" and left"),
            "<p>She said <span class=\"speech\">&quot;hi&quot;</span> and left</p>"
        );
        assert_eq!(to_html("an \"open quote"), "<p>an &quot;open quote</p>");
    }

    #[test]
    fn only_web_and_mail_links_are_links() {
        assert!(is_safe_link("https://example.org"));
        assert!(is_safe_link("mailto:a@b.org"));
        assert!(!is_safe_link("javascript:alert(1)"));
        assert!(!is_safe_link(" JavaScript:alert(1)"));
        assert!(!is_safe_link("data:text/html,hi"));
    }
}
