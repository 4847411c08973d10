use super::*;
use proptest::prelude::*;

#[test]
fn keeps_the_digits_it_read() {
    for text in [
        "1000.00",
        "218.70",
        "-10",
        "10",
        "0",
        "0.00",
        "-0.50",
        "79228162514264337593543950335",
    ] {
        let amount = Amount::parse(text).unwrap();
        assert_eq!(amount.to_string(), text);
        assert_eq!(serde_json::to_string(&amount).unwrap(), text);
    }
}

#[test]
fn values_are_exact_decimals() {
    assert_eq!(Amount::parse("1000.00").unwrap().value(), Decimal::new(100_000, 2));
    assert_eq!(Amount::parse("218.70").unwrap().value(), Decimal::new(21_870, 2));
    assert_eq!(Amount::parse("1.5e2").unwrap().value(), Decimal::new(150, 0));
    assert_eq!(Amount::parse("15E-1").unwrap().value(), Decimal::new(15, 1));
    assert_eq!(
        Amount::parse("0.1").unwrap().value() + Amount::parse("0.2").unwrap().value(),
        Decimal::new(3, 1)
    );
    assert!(Amount::parse("-10").unwrap().is_negative());
    assert!(!Amount::parse("-0.00").unwrap().is_negative());
    assert!(Amount::parse("-0.00").unwrap().is_zero());
    assert_eq!(Amount::parse("10.0").unwrap(), Amount::parse("10.00").unwrap());
}

#[test]
fn refuses_what_would_round() {
    let too_large = [
        "79228162514264337593543950336",
        "1e29",
        "123456789012345678901234567890.5",
        "1e99999999999999999999",
    ];
    for text in too_large {
        assert!(matches!(Amount::parse(text), Err(AmountError::TooLarge(_))), "{text}");
    }
    assert!(matches!(
        Amount::parse("9.9999999999999999999999999999"),
        Err(AmountError::TooPrecise(_))
    ));
    let too_precise = [
        "1.00000000000000000000000000001",
        "1e-29",
        "0.12345678901234567890123456789",
        "1e-99999999999999999999",
    ];
    for text in too_precise {
        assert!(matches!(Amount::parse(text), Err(AmountError::TooPrecise(_))), "{text}");
    }
    let err = Amount::parse("1e29").unwrap_err().to_string();
    assert_eq!(
        err,
        "`1e29` is too large for an amount (at most 79228162514264337593543950335); it was not rounded"
    );
}

#[test]
fn refuses_what_is_not_json_number_syntax() {
    for text in [
        "", "-", "+1", "01", "1.", ".5", "1e", "1e+", "NaN", "Infinity", " 1", "1 ", "1,5", "0x10", "１",
    ] {
        assert!(matches!(Amount::parse(text), Err(AmountError::Syntax(_))), "{text:?}");
    }
}

#[test]
fn reads_numbers_and_quoted_numbers_from_json() {
    let plain: Amount = serde_json::from_str("218.70").unwrap();
    assert!(!plain.is_quoted());
    assert_eq!(plain.as_str(), "218.70");
    let quoted: Amount = serde_json::from_str("\"218.70\"").unwrap();
    assert!(quoted.is_quoted());
    assert_eq!(serde_json::to_string(&quoted).unwrap(), "\"218.70\"");
    for bad in ["true", "null", "[1]", "\"ten\"", "{}"] {
        assert!(serde_json::from_str::<Amount>(bad).is_err(), "{bad}");
    }
}

#[test]
fn zero_in_any_spelling_is_zero() {
    for text in ["0", "0.000", "0e5", "-0", "0e-99999"] {
        assert!(Amount::parse(text).unwrap().is_zero(), "{text}");
    }
}

proptest! {
    #[test]
    fn any_decimal_round_trips_its_digits(int in "-?(0|[1-9][0-9]{0,15})", frac in proptest::option::of("[0-9]{1,12}")) {
        let text = match frac { Some(f) => format!("{int}.{f}"), None => int };
        let amount = Amount::parse(&text).unwrap();
        prop_assert_eq!(amount.to_string(), text.clone());
        let written = serde_json::to_string(&amount).unwrap();
        prop_assert_eq!(&written, &text);
        let back: Amount = serde_json::from_str(&written).unwrap();
        prop_assert_eq!(back.as_str(), text.as_str());
        prop_assert_eq!(back.value().to_string(), Decimal::from_str_exact(&text).unwrap().to_string());
    }

    #[test]
    fn no_text_panics(text in "\\PC{0,40}") {
        let _ = Amount::parse(&text);
    }
}
