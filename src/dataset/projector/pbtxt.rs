//! The protobuf text format, as far as `projector_config.pbtxt` uses it: fields with scalar
//! values (`name: "x"`, `n: 3`, `dims: [28, 28]`) and nested messages (`sprite { … }` or
//! `sprite < … >`, the colon optional), `#` comments. Parsed into a tree first so errors point
//! at a line and column, then read into the projector's types by the caller.

/// A parsed field value.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// A string (unescaped) or a bare token (number, identifier, enum value).
    Scalar(String),
    Message(Vec<Field>),
}

#[derive(Debug, Clone, PartialEq)]
pub struct Field {
    pub name: String,
    pub value: Value,
    /// 1-based line of the field name, for messages about its value.
    pub line: usize,
}

/// A syntax error at `line`:`column` (1-based).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyntaxError {
    pub line: usize,
    pub column: usize,
    pub reason: String,
}

impl std::fmt::Display for SyntaxError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "line {}, column {}: {}",
            self.line, self.column, self.reason
        )
    }
}

#[derive(Debug, Clone, PartialEq)]
enum Token {
    Ident(String),
    Str(String),
    /// Numbers and other bare values (`-1.5e3`, `inf`).
    Bare(String),
    Punct(char),
}

struct Lexer<'a> {
    chars: std::iter::Peekable<std::str::Chars<'a>>,
    line: usize,
    column: usize,
}

impl Lexer<'_> {
    fn bump(&mut self) -> Option<char> {
        let c = self.chars.next()?;
        if c == '\n' {
            self.line += 1;
            self.column = 1;
        } else {
            self.column += 1;
        }
        Some(c)
    }

    fn error(&self, reason: impl Into<String>) -> SyntaxError {
        SyntaxError {
            line: self.line,
            column: self.column,
            reason: reason.into(),
        }
    }

    /// The next token and where it starts, or `None` at the end.
    fn next(&mut self) -> Result<Option<(Token, usize, usize)>, SyntaxError> {
        loop {
            match self.chars.peek() {
                Some(c) if c.is_whitespace() => {
                    self.bump();
                }
                Some('#') => {
                    while self.chars.peek().is_some_and(|&c| c != '\n') {
                        self.bump();
                    }
                }
                _ => break,
            }
        }
        let (line, column) = (self.line, self.column);
        let Some(&c) = self.chars.peek() else {
            return Ok(None);
        };
        let token = match c {
            '{' | '}' | '<' | '>' | ':' | '[' | ']' | ',' | ';' => {
                self.bump();
                Token::Punct(c)
            }
            '"' | '\'' => {
                self.bump();
                Token::Str(self.string(c)?)
            }
            c if c.is_ascii_alphabetic() || c == '_' => {
                let mut s = String::new();
                while let Some(&c) = self.chars.peek() {
                    if c.is_ascii_alphanumeric() || c == '_' || c == '.' || c == '/' {
                        s.push(c);
                        self.bump();
                    } else {
                        break;
                    }
                }
                Token::Ident(s)
            }
            c if c.is_ascii_digit() || c == '-' || c == '+' || c == '.' => {
                let mut s = String::new();
                while let Some(&c) = self.chars.peek() {
                    if c.is_ascii_alphanumeric() || matches!(c, '-' | '+' | '.') {
                        s.push(c);
                        self.bump();
                    } else {
                        break;
                    }
                }
                Token::Bare(s)
            }
            other => return Err(self.error(format!("unexpected character {other:?}"))),
        };
        Ok(Some((token, line, column)))
    }

    /// The rest of a quoted string whose opening `quote` was consumed, escapes resolved.
    fn string(&mut self, quote: char) -> Result<String, SyntaxError> {
        let mut bytes: Vec<u8> = Vec::new();
        loop {
            let Some(c) = self.bump() else {
                return Err(self.error("unterminated string"));
            };
            match c {
                '\n' => return Err(self.error("line break inside a string")),
                c if c == quote => break,
                '\\' => {
                    let Some(e) = self.bump() else {
                        return Err(self.error("unterminated string"));
                    };
                    match e {
                        'n' => bytes.push(b'\n'),
                        't' => bytes.push(b'\t'),
                        'r' => bytes.push(b'\r'),
                        'a' => bytes.push(7),
                        'b' => bytes.push(8),
                        'f' => bytes.push(12),
                        'v' => bytes.push(11),
                        '\\' | '\'' | '"' | '?' => bytes.push(e as u8),
                        'x' => {
                            let mut v = 0u32;
                            let mut digits = 0;
                            while digits < 2
                                && self.chars.peek().is_some_and(char::is_ascii_hexdigit)
                            {
                                v = v * 16 + self.bump().and_then(|d| d.to_digit(16)).unwrap_or(0);
                                digits += 1;
                            }
                            if digits == 0 {
                                return Err(self.error("\\x without hex digits"));
                            }
                            bytes.push(v as u8);
                        }
                        '0'..='7' => {
                            let mut v = e.to_digit(8).unwrap_or(0);
                            let mut digits = 1;
                            while digits < 3
                                && self.chars.peek().is_some_and(|d| ('0'..='7').contains(d))
                            {
                                v = v * 8 + self.bump().and_then(|d| d.to_digit(8)).unwrap_or(0);
                                digits += 1;
                            }
                            bytes.push((v & 0xff) as u8);
                        }
                        other => return Err(self.error(format!("unknown escape \\{other}"))),
                    }
                }
                c => {
                    let mut buf = [0u8; 4];
                    bytes.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
                }
            }
        }
        String::from_utf8(bytes).map_err(|_| self.error("string is not valid UTF-8"))
    }
}

/// Parse a whole text-format message.
pub fn parse(text: &str) -> Result<Vec<Field>, SyntaxError> {
    let mut lexer = Lexer {
        chars: text.chars().peekable(),
        line: 1,
        column: 1,
    };
    let mut tokens = Vec::new();
    while let Some(t) = lexer.next()? {
        tokens.push(t);
    }
    let mut pos = 0;
    let fields = parse_fields(&tokens, &mut pos, None, 0)?;
    Ok(fields)
}

/// Deepest nesting of messages accepted. The projector's config nests two levels; the parser
/// recurses once a level, so an unbounded depth (a file of 200,000 `{`) would overflow the
/// stack and abort the process instead of reporting the file.
pub const MAX_DEPTH: usize = 64;

fn parse_fields(
    tokens: &[(Token, usize, usize)],
    pos: &mut usize,
    close: Option<char>,
    depth: usize,
) -> Result<Vec<Field>, SyntaxError> {
    let at = |i: usize, reason: String| {
        let (line, column) = tokens
            .get(i)
            .or(tokens.last())
            .map_or((1, 1), |t| (t.1, t.2));
        SyntaxError {
            line,
            column,
            reason,
        }
    };
    let mut fields = Vec::new();
    loop {
        let Some((token, line, _)) = tokens.get(*pos) else {
            return match close {
                None => Ok(fields),
                Some(c) => Err(at(*pos, format!("missing '{c}' at the end"))),
            };
        };
        match token {
            Token::Punct(c) if Some(*c) == close => {
                *pos += 1;
                return Ok(fields);
            }
            Token::Punct(',' | ';') => {
                *pos += 1;
            }
            Token::Ident(name) => {
                *pos += 1;
                let mut colon = false;
                if matches!(tokens.get(*pos), Some((Token::Punct(':'), ..))) {
                    *pos += 1;
                    colon = true;
                }
                match tokens.get(*pos).map(|t| &t.0) {
                    Some(Token::Punct(open @ ('{' | '<'))) => {
                        let closing = if *open == '{' { '}' } else { '>' };
                        if depth >= MAX_DEPTH {
                            return Err(at(
                                *pos,
                                format!("messages nested deeper than {MAX_DEPTH} levels"),
                            ));
                        }
                        *pos += 1;
                        let inner = parse_fields(tokens, pos, Some(closing), depth + 1)?;
                        fields.push(Field {
                            name: name.clone(),
                            value: Value::Message(inner),
                            line: *line,
                        });
                    }
                    Some(Token::Punct('[')) if colon => {
                        *pos += 1;
                        loop {
                            match tokens.get(*pos).map(|t| &t.0) {
                                Some(Token::Punct(']')) => {
                                    *pos += 1;
                                    break;
                                }
                                Some(Token::Punct(',')) => *pos += 1,
                                Some(Token::Str(s) | Token::Bare(s) | Token::Ident(s)) => {
                                    fields.push(Field {
                                        name: name.clone(),
                                        value: Value::Scalar(s.clone()),
                                        line: *line,
                                    });
                                    *pos += 1;
                                }
                                _ => return Err(at(*pos, format!("bad list for '{name}'"))),
                            }
                        }
                    }
                    Some(Token::Str(_)) if colon => {
                        // Adjacent strings concatenate, as in C.
                        let mut s = String::new();
                        while let Some((Token::Str(part), ..)) = tokens.get(*pos) {
                            s.push_str(part);
                            *pos += 1;
                        }
                        fields.push(Field {
                            name: name.clone(),
                            value: Value::Scalar(s),
                            line: *line,
                        });
                    }
                    Some(Token::Bare(s) | Token::Ident(s)) if colon => {
                        fields.push(Field {
                            name: name.clone(),
                            value: Value::Scalar(s.clone()),
                            line: *line,
                        });
                        *pos += 1;
                    }
                    _ => {
                        return Err(at(
                            *pos,
                            format!("expected a value or a message after '{name}'"),
                        ));
                    }
                }
            }
            other => {
                return Err(at(
                    *pos,
                    format!("expected a field name, found {}", describe(other)),
                ));
            }
        }
    }
}

fn describe(t: &Token) -> String {
    match t {
        Token::Ident(s) | Token::Bare(s) => format!("'{s}'"),
        Token::Str(s) => format!("the string {s:?}"),
        Token::Punct(c) => format!("'{c}'"),
    }
}

/// A string as a text-format literal: double-quoted, with `"`, `\` and control characters
/// escaped.
pub fn quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\{:03o}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scalar(f: &Field) -> &str {
        match &f.value {
            Value::Scalar(s) => s,
            Value::Message(_) => panic!("{f:?} is a message"),
        }
    }

    #[test]
    fn nested_messages_lists_comments_and_escapes() {
        let text = r#"
            # written by hand
            embeddings {
              tensor_name: "word \"vectors\"\t1"
              tensor_shape: 100 tensor_shape: 64
              sprite: < image_path: 'sprite.png' single_image_dim: [28, 28] >
            }
            embeddings { tensor_name: "b" "c" }
            model_checkpoint_path: "\101\x42"
        "#;
        let fields = parse(text).expect("parses");
        assert_eq!(fields.len(), 3);
        let Value::Message(e) = &fields[0].value else {
            panic!("message")
        };
        assert_eq!(scalar(&e[0]), "word \"vectors\"\t1");
        assert_eq!(scalar(&e[1]), "100");
        assert_eq!(scalar(&e[2]), "64");
        let Value::Message(sprite) = &e[3].value else {
            panic!("sprite message")
        };
        assert_eq!(scalar(&sprite[0]), "sprite.png");
        assert_eq!(
            sprite[1..].iter().map(scalar).collect::<Vec<_>>(),
            vec!["28", "28"]
        );
        let Value::Message(b) = &fields[1].value else {
            panic!("message")
        };
        assert_eq!(scalar(&b[0]), "bc");
        assert_eq!(scalar(&fields[2]), "AB");
        assert_eq!(fields[2].line, 9);
    }

    #[test]
    fn errors_point_at_the_place() {
        let err = parse("embeddings {\n  tensor_name: \"a\"\n").expect_err("unclosed");
        assert!(err.reason.contains("missing '}'"), "{err}");
        let err = parse("embeddings {\n  tensor_name \"a\"\n}").expect_err("no colon");
        assert_eq!(err.line, 2);
        assert!(err.reason.contains("tensor_name"), "{err}");
        let err = parse("a: \"open\nb: 1").expect_err("line break");
        assert!(err.reason.contains("line break"), "{err}");
        let err = parse("} a: 1").expect_err("stray brace");
        assert_eq!((err.line, err.column), (1, 1));
    }

    #[test]
    fn deep_nesting_is_an_error_not_a_stack_overflow() {
        let deep = format!("{}{}", "a {".repeat(200_000), "}".repeat(200_000));
        let err = parse(&deep).expect_err("too deep");
        assert!(err.reason.contains("nested deeper than 64"), "{err}");
        assert_eq!((err.line, err.column), (1, 3 * MAX_DEPTH + 3));
        let ok = format!("{}{}", "a {".repeat(MAX_DEPTH), "}".repeat(MAX_DEPTH));
        assert!(parse(&ok).is_ok());
    }

    #[test]
    fn quoting_round_trips() {
        for s in [
            "plain",
            "with \"quotes\" and \\ and\ttab\nnewline",
            "ünï\u{1}",
        ] {
            let fields = parse(&format!("x: {}", quote(s))).expect("parses");
            assert_eq!(scalar(&fields[0]), s);
        }
    }
}
