//! A parser for the RQL filters Connect clients send in the query string
//! (`and(eq(active,true),eq(product.id,PRD-1))`, `label=My%20Hook`, `ordering(-created_at)`),
//! and its translation to SQL over whitelisted fields.
//!
//! Input is bounded before anything recurses over it: an expression longer than
//! [`MAX_LENGTH`] characters or nested deeper than [`MAX_DEPTH`] is refused, so the parser
//! and the SQL translation (both recursive) never go deeper than that.

use sqlx::{Postgres, QueryBuilder};

#[derive(Debug, Clone, PartialEq)]
pub enum Node {
    Call(String, Vec<Node>),
    Value(String),
    List(Vec<Node>),
}

/// The deepest nesting of calls and lists an expression may have.
pub const MAX_DEPTH: usize = 32;
/// The longest expression accepted, in characters.
pub const MAX_LENGTH: usize = 4096;

/// Why an expression was refused.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum RqlError {
    /// Not valid RQL; the message says where and what.
    #[error("{0}")]
    Syntax(String),
    /// Over one of the bounds: a validation error, not a syntax one.
    #[error("filter: RQL nesting deeper than {MAX_DEPTH} levels is not allowed")]
    TooDeep,
    #[error("filter: an RQL expression may have at most {MAX_LENGTH} characters; this one has {0}")]
    TooLong(usize),
}

/// Parses one expression; errors say where and what.
pub fn parse(input: &str) -> Result<Node, RqlError> {
    // Depth first, so a deeply nested attack is named as such whatever its length.
    if too_deep(input) {
        return Err(RqlError::TooDeep);
    }
    let length = input.chars().count();
    if length > MAX_LENGTH {
        return Err(RqlError::TooLong(length));
    }
    let chars: Vec<char> = input.chars().collect();
    let mut pos = 0;
    let node = parse_node(&chars, &mut pos, 0)?;
    if pos != chars.len() {
        return Err(RqlError::Syntax(format!(
            "unexpected {:?} at position {pos}",
            chars[pos]
        )));
    }
    Ok(node)
}

/// Whether the parentheses of `input` nest deeper than [`MAX_DEPTH`]: a flat scan, no recursion.
pub fn too_deep(input: &str) -> bool {
    let mut open = 0usize;
    for ch in input.chars() {
        match ch {
            '(' => {
                open += 1;
                if open > MAX_DEPTH {
                    return true;
                }
            }
            ')' => open = open.saturating_sub(1),
            _ => {}
        }
    }
    false
}

/// `depth` counts the calls and lists around this node: the same as the parentheses the
/// pre-scan in [`parse`] counts, plus one per `=` shorthand.
fn parse_node(c: &[char], pos: &mut usize, depth: usize) -> Result<Node, RqlError> {
    if depth > MAX_DEPTH {
        return Err(RqlError::TooDeep);
    }
    if c.get(*pos) == Some(&'(') {
        *pos += 1;
        let items = parse_args(c, pos, depth + 1)?;
        return Ok(Node::List(items));
    }
    let start = *pos;
    while *pos < c.len() && !matches!(c[*pos], '(' | ')' | ',' | '=') {
        *pos += 1;
    }
    let word: String = c[start..*pos].iter().collect();
    match c.get(*pos) {
        Some('(') => {
            if word.is_empty() {
                return Err(RqlError::Syntax(format!("a call without a name at position {start}")));
            }
            *pos += 1;
            let args = parse_args(c, pos, depth + 1)?;
            Ok(Node::Call(word, args))
        }
        Some('=') => {
            // The `field=value` shorthand for eq(field,value).
            *pos += 1;
            let value = parse_node(c, pos, depth + 1)?;
            Ok(Node::Call("eq".into(), vec![Node::Value(word), value]))
        }
        _ => Ok(Node::Value(word)),
    }
}

fn parse_args(c: &[char], pos: &mut usize, depth: usize) -> Result<Vec<Node>, RqlError> {
    let mut args = Vec::new();
    if c.get(*pos) == Some(&')') {
        *pos += 1;
        return Ok(args);
    }
    loop {
        args.push(parse_node(c, pos, depth)?);
        match c.get(*pos) {
            Some(',') => *pos += 1,
            Some(')') => {
                *pos += 1;
                return Ok(args);
            }
            _ => return Err(RqlError::Syntax("a missing closing parenthesis".into())),
        }
    }
}

/// A filterable field: its SQL expression and how values are typed.
#[derive(Clone, Copy)]
pub struct Field {
    pub sql: &'static str,
    pub boolean: bool,
}

pub type Fields = fn(&str) -> Option<Field>;

/// Appends the SQL for a filter node; `fields` whitelists what may be filtered. Recursion is
/// bounded by the parser's [`MAX_DEPTH`].
pub fn push_filter(q: &mut QueryBuilder<'_, Postgres>, node: &Node, fields: Fields) -> Result<(), String> {
    let Node::Call(op, args) = node else {
        return Err("a filter must be an operator call such as eq(field,value)".into());
    };
    match op.as_str() {
        "and" | "or" => {
            if args.is_empty() {
                return Err(format!("{op}() needs arguments"));
            }
            q.push("(");
            for (i, a) in args.iter().enumerate() {
                if i > 0 {
                    q.push(if op == "and" { " and " } else { " or " });
                }
                push_filter(q, a, fields)?;
            }
            q.push(")");
        }
        "not" => {
            let [inner] = args.as_slice() else {
                return Err("not() takes one argument".into());
            };
            q.push("not (");
            push_filter(q, inner, fields)?;
            q.push(")");
        }
        "eq" | "ne" | "gt" | "ge" | "lt" | "le" | "like" | "ilike" => {
            let [Node::Value(name), value] = args.as_slice() else {
                return Err(format!("{op}() takes a field and a value"));
            };
            let field = fields(name).ok_or_else(|| format!("{name} cannot be filtered"))?;
            if let Node::Call(f, _) = value {
                let null_check = match (f.as_str(), op.as_str()) {
                    ("null", "eq") => " is null",
                    ("null", "ne") => " is not null",
                    ("empty", "eq") => " = ''",
                    ("empty", "ne") => " <> ''",
                    _ => return Err(format!("{f}() is not allowed in {op}()")),
                };
                q.push(field.sql).push(null_check);
                return Ok(());
            }
            let Node::Value(v) = value else {
                return Err(format!("{op}() takes a plain value"));
            };
            let sql_op = match op.as_str() {
                "eq" => " = ",
                "ne" => " <> ",
                "gt" => " > ",
                "ge" => " >= ",
                "lt" => " < ",
                "le" => " <= ",
                "like" => " like ",
                _ => " ilike ",
            };
            q.push(field.sql).push(sql_op);
            push_value(q, field, op.contains("like"), v)?;
        }
        "in" | "out" => {
            let [Node::Value(name), Node::List(values)] = args.as_slice() else {
                return Err(format!(
                    "{op}() takes a field and a list, e.g. {op}(type,(event,validator))"
                ));
            };
            let field = fields(name).ok_or_else(|| format!("{name} cannot be filtered"))?;
            if values.is_empty() {
                q.push(if op == "in" { "false" } else { "true" });
                return Ok(());
            }
            q.push(field.sql).push(if op == "in" { " in (" } else { " not in (" });
            for (i, v) in values.iter().enumerate() {
                let Node::Value(v) = v else {
                    return Err(format!("{op}() lists plain values"));
                };
                if i > 0 {
                    q.push(", ");
                }
                push_value(q, field, false, v)?;
            }
            q.push(")");
        }
        other => return Err(format!("{other}() is not a supported operator")),
    }
    Ok(())
}

fn push_value(q: &mut QueryBuilder<'_, Postgres>, field: Field, like: bool, v: &str) -> Result<(), String> {
    if field.boolean {
        let b = match v {
            "true" | "True" => true,
            "false" | "False" => false,
            _ => return Err(format!("{v:?} is not true or false")),
        };
        q.push_bind(b);
    } else if like {
        let pattern = crate::db::escape_like(v).replace('*', "%");
        q.push_bind(pattern);
    } else {
        q.push_bind(v.to_string());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_what_the_python_client_sends() {
        assert_eq!(
            parse("and(eq(active,true),eq(product.id,PRD-1))").unwrap(),
            Node::Call(
                "and".into(),
                vec![
                    Node::Call(
                        "eq".into(),
                        vec![Node::Value("active".into()), Node::Value("true".into())]
                    ),
                    Node::Call(
                        "eq".into(),
                        vec![Node::Value("product.id".into()), Node::Value("PRD-1".into())]
                    ),
                ]
            )
        );
        assert!(matches!(parse("in(type,(event,validator))").unwrap(), Node::Call(op, _) if op == "in"));
        assert!(matches!(parse("label=My Hook").unwrap(), Node::Call(op, _) if op == "eq"));
        assert!(
            matches!(parse("eq(description,null())").unwrap(), Node::Call(_, args) if matches!(&args[1], Node::Call(n, _) if n == "null"))
        );
        assert!(parse("eq(label,x").is_err());
        assert!(parse("eq(label,x))").is_err());
    }

    #[test]
    fn deep_or_long_input_is_refused_without_recursing() {
        // Far deeper than any stack allows, if the parser recursed without a bound.
        assert_eq!(parse(&"(".repeat(100_000)), Err(RqlError::TooDeep));
        assert_eq!(parse(&"not(".repeat(100_000)), Err(RqlError::TooDeep));
        // `a=a=a=…` nests without parentheses: the parser's own bound refuses it.
        assert_eq!(parse(&"a=".repeat(2_000)), Err(RqlError::TooDeep));
        assert_eq!(parse(&"a=".repeat(3_000)), Err(RqlError::TooLong(6_000)));
        assert_eq!(
            parse(&"x".repeat(MAX_LENGTH + 1)),
            Err(RqlError::TooLong(MAX_LENGTH + 1))
        );
        let mut nested = "eq(label,x)".to_string();
        for _ in 0..MAX_DEPTH - 1 {
            nested = format!("not({nested})");
        }
        assert_eq!(nested.matches('(').count(), MAX_DEPTH);
        assert!(parse(&nested).is_ok(), "{MAX_DEPTH} levels are allowed");
        assert_eq!(parse(&format!("not({nested})")), Err(RqlError::TooDeep));
    }

    proptest::proptest! {
        #![proptest_config(proptest::test_runner::Config { cases: 512, failure_persistence: None, ..Default::default() })]

        /// Whatever the input, parsing and translating end with a result: no panic, no stack
        /// overflow, and nothing accepted deeper or longer than the bounds.
        #[test]
        fn any_input_parses_or_is_refused(input in "[a-z(),=*. -]{0,300}|\\PC{0,100}", nesting in 0usize..5000) {
            for candidate in [input.clone(), format!("{}{input}", "not(".repeat(nesting))] {
                if let Ok(node) = parse(&candidate) {
                    proptest::prop_assert!(candidate.chars().count() <= MAX_LENGTH);
                    let fields: Fields = |name| (name == "label").then_some(Field { sql: "label", boolean: false });
                    let mut q = QueryBuilder::<Postgres>::new("select 1 where ");
                    let _ = push_filter(&mut q, &node, fields);
                }
            }
        }
    }
}
