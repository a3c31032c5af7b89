use super::token::PERCENT;
use super::*;

fn toks(s: &str) -> Vec<Token> {
    let lex = Lexicon::new();
    let mut out = Vec::new();
    let mut buf = String::new();
    let nt = NormText::new(s);
    tokenize(&nt.text, &lex, &mut out, &mut buf);
    out
}

fn nums(s: &str) -> Vec<f64> {
    toks(s)
        .iter()
        .filter(|t| t.kind == Kind::Number)
        .map(|t| t.value)
        .collect()
}

#[test]
fn numbers_normalise() {
    assert_eq!(nums("grossed $181,674,817 worldwide"), vec![181_674_817.0]);
    assert_eq!(nums("1,200 and 1200"), vec![1200.0, 1200.0]);
    assert_eq!(nums("1.2 thousand"), vec![1200.0]);
    assert_eq!(nums("$160 million"), vec![160e6]);
    assert_eq!(nums("two million people"), vec![2e6]);
    assert_eq!(nums("the 1990s and the 21st"), vec![1990.0, 21.0]);
    assert_eq!(nums("version 3.5."), vec![3.5]);
    assert_eq!(nums("1,2,3"), vec![1.0, 2.0, 3.0]);
    let a = toks("1,200");
    let b = toks("1.2 thousand");
    assert_eq!(a[0].stem, b[0].stem);
}

#[test]
fn percentages() {
    let t = toks("rose 45% then 45 percent");
    let n: Vec<&Token> = t.iter().filter(|t| t.kind == Kind::Number).collect();
    assert_eq!(n.len(), 2);
    assert!(n.iter().all(|t| t.has(PERCENT) && t.value == 45.0));
}

#[test]
fn dates_and_months() {
    let a = toks("born March 2, 1991");
    let b = toks("born 2 Mar. 1991");
    let sa: Vec<u64> = a
        .iter()
        .filter(|t| t.kind != Kind::Punct)
        .map(|t| t.stem)
        .collect();
    let mut sb: Vec<u64> = b
        .iter()
        .filter(|t| t.kind != Kind::Punct)
        .map(|t| t.stem)
        .collect();
    sb.swap(1, 2);
    assert_eq!(sa, sb);
    // "may" the modal verb is not a month
    let m = toks("it may rain in May");
    assert_ne!(m[1].stem, m[4].stem);
}

#[test]
fn stemming_and_case() {
    let a = toks("Running runners RAN");
    let b = toks("run runner ran");
    assert_eq!(a[0].stem, b[0].stem);
    assert_eq!(a[1].stem, b[1].stem);
    assert_eq!(a[2].stem, b[2].stem);
    assert!(a[0].has(CAP));
}

#[test]
fn negation_and_clitics() {
    let t = toks("He didn't go; Poseidon's budget was not small");
    assert!(t[1].has(NEG));
    assert!(t.iter().any(|x| x.kind == Kind::Punct && x.has(CLAUSE_END)));
    let p = toks("Poseidon");
    assert_eq!(t[4].stem, p[0].stem);
    assert!(t.iter().filter(|x| x.has(NEG)).count() == 2);
}

#[test]
fn nfkc_and_offsets() {
    let s = "Ｔｏｋｙｏ has １２ wards — café";
    let nt = NormText::new(s);
    assert!(nt.text.starts_with("Tokyo has 12 wards"));
    let t = toks(s);
    assert_eq!(t[2].value, 12.0);
    // map back: "café" starts at char 22 of the original
    let pos = nt.text.find("caf").unwrap_or(0);
    assert_eq!(
        nt.orig_char(pos),
        s.chars().position(|c| c == 'c').unwrap_or(0)
    );
    assert_eq!(nt.orig_char(nt.text.len()), s.chars().count());
    let decomposed = "cafe\u{301} open";
    let nt2 = NormText::new(decomposed);
    assert_eq!(&*nt2.text, "café open");
}

#[test]
fn full_width_numbers_match_ascii() {
    assert_eq!(toks("１，２００")[0].stem, toks("1,200")[0].stem);
}
