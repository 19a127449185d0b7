//! Compact JSON serialisation that refuses NaN and ±Infinity (serde_json would silently
//! write `null`; the official clients reject them before sending).

use serde::ser::{self, Serialize, Serializer};

use crate::error::Error;

/// Serialises `value` as compact JSON, refusing non-finite floats.
pub fn to_vec<T: Serialize + ?Sized>(value: &T) -> Result<Vec<u8>, Error> {
    let mut out = Vec::with_capacity(128);
    write(&mut out, value)?;
    Ok(out)
}

/// Appends `value` as compact JSON to `out`, refusing non-finite floats.
pub fn write<T: Serialize + ?Sized>(out: &mut Vec<u8>, value: &T) -> Result<(), Error> {
    let mut ser = serde_json::Serializer::new(out);
    Finite(value).serialize(&mut ser).map_err(|e| {
        if e.to_string().contains(NON_FINITE) {
            Error::invalid_argument("NaN and Infinity cannot be sent as JSON")
        } else {
            Error::invalid_argument(format!("value cannot be serialised as JSON: {e}"))
        }
    })
}

const NON_FINITE: &str = "non-finite float";

/// Serialises the wrapped value through [`Check`].
struct Finite<'a, T: ?Sized>(&'a T);

impl<T: Serialize + ?Sized> Serialize for Finite<'_, T> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.0.serialize(Check(s))
    }
}

/// A serializer that forwards everything to the inner one, failing on non-finite floats.
struct Check<S>(S);

fn check_float<E: ser::Error>(v: f64) -> Result<(), E> {
    if v.is_finite() { Ok(()) } else { Err(E::custom(NON_FINITE)) }
}

macro_rules! forward {
    ($($method:ident($($arg:ident: $ty:ty),*)),* $(,)?) => {$(
        fn $method(self, $($arg: $ty),*) -> Result<S::Ok, S::Error> {
            self.0.$method($($arg),*)
        }
    )*};
}

impl<S: Serializer> Serializer for Check<S> {
    type Ok = S::Ok;
    type Error = S::Error;
    type SerializeSeq = Check<S::SerializeSeq>;
    type SerializeTuple = Check<S::SerializeTuple>;
    type SerializeTupleStruct = Check<S::SerializeTupleStruct>;
    type SerializeTupleVariant = Check<S::SerializeTupleVariant>;
    type SerializeMap = Check<S::SerializeMap>;
    type SerializeStruct = Check<S::SerializeStruct>;
    type SerializeStructVariant = Check<S::SerializeStructVariant>;

    forward!(
        serialize_bool(v: bool),
        serialize_i8(v: i8),
        serialize_i16(v: i16),
        serialize_i32(v: i32),
        serialize_i64(v: i64),
        serialize_i128(v: i128),
        serialize_u8(v: u8),
        serialize_u16(v: u16),
        serialize_u32(v: u32),
        serialize_u64(v: u64),
        serialize_u128(v: u128),
        serialize_char(v: char),
        serialize_str(v: &str),
        serialize_bytes(v: &[u8]),
        serialize_none(),
        serialize_unit(),
        serialize_unit_struct(name: &'static str),
        serialize_unit_variant(name: &'static str, index: u32, variant: &'static str),
    );

    fn serialize_f32(self, v: f32) -> Result<S::Ok, S::Error> {
        check_float(v.into())?;
        self.0.serialize_f32(v)
    }
    fn serialize_f64(self, v: f64) -> Result<S::Ok, S::Error> {
        check_float(v)?;
        self.0.serialize_f64(v)
    }
    fn serialize_some<T: Serialize + ?Sized>(self, v: &T) -> Result<S::Ok, S::Error> {
        self.0.serialize_some(&Finite(v))
    }
    fn serialize_newtype_struct<T: Serialize + ?Sized>(self, name: &'static str, v: &T) -> Result<S::Ok, S::Error> {
        self.0.serialize_newtype_struct(name, &Finite(v))
    }
    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        name: &'static str,
        index: u32,
        variant: &'static str,
        v: &T,
    ) -> Result<S::Ok, S::Error> {
        self.0.serialize_newtype_variant(name, index, variant, &Finite(v))
    }
    fn serialize_seq(self, len: Option<usize>) -> Result<Self::SerializeSeq, S::Error> {
        self.0.serialize_seq(len).map(Check)
    }
    fn serialize_tuple(self, len: usize) -> Result<Self::SerializeTuple, S::Error> {
        self.0.serialize_tuple(len).map(Check)
    }
    fn serialize_tuple_struct(self, name: &'static str, len: usize) -> Result<Self::SerializeTupleStruct, S::Error> {
        self.0.serialize_tuple_struct(name, len).map(Check)
    }
    fn serialize_tuple_variant(
        self,
        name: &'static str,
        index: u32,
        variant: &'static str,
        len: usize,
    ) -> Result<Self::SerializeTupleVariant, S::Error> {
        self.0.serialize_tuple_variant(name, index, variant, len).map(Check)
    }
    fn serialize_map(self, len: Option<usize>) -> Result<Self::SerializeMap, S::Error> {
        self.0.serialize_map(len).map(Check)
    }
    fn serialize_struct(self, name: &'static str, len: usize) -> Result<Self::SerializeStruct, S::Error> {
        self.0.serialize_struct(name, len).map(Check)
    }
    fn serialize_struct_variant(
        self,
        name: &'static str,
        index: u32,
        variant: &'static str,
        len: usize,
    ) -> Result<Self::SerializeStructVariant, S::Error> {
        self.0.serialize_struct_variant(name, index, variant, len).map(Check)
    }
    fn is_human_readable(&self) -> bool {
        self.0.is_human_readable()
    }
}

macro_rules! compound {
    ($trait:ident, $method:ident) => {
        impl<S: ser::$trait> ser::$trait for Check<S> {
            type Ok = S::Ok;
            type Error = S::Error;
            fn $method<T: Serialize + ?Sized>(&mut self, v: &T) -> Result<(), S::Error> {
                self.0.$method(&Finite(v))
            }
            fn end(self) -> Result<S::Ok, S::Error> {
                self.0.end()
            }
        }
    };
}
compound!(SerializeSeq, serialize_element);
compound!(SerializeTuple, serialize_element);
compound!(SerializeTupleStruct, serialize_field);
compound!(SerializeTupleVariant, serialize_field);

impl<S: ser::SerializeMap> ser::SerializeMap for Check<S> {
    type Ok = S::Ok;
    type Error = S::Error;
    fn serialize_key<T: Serialize + ?Sized>(&mut self, k: &T) -> Result<(), S::Error> {
        self.0.serialize_key(&Finite(k))
    }
    fn serialize_value<T: Serialize + ?Sized>(&mut self, v: &T) -> Result<(), S::Error> {
        self.0.serialize_value(&Finite(v))
    }
    fn end(self) -> Result<S::Ok, S::Error> {
        self.0.end()
    }
}

macro_rules! compound_fields {
    ($trait:ident) => {
        impl<S: ser::$trait> ser::$trait for Check<S> {
            type Ok = S::Ok;
            type Error = S::Error;
            fn serialize_field<T: Serialize + ?Sized>(&mut self, key: &'static str, v: &T) -> Result<(), S::Error> {
                self.0.serialize_field(key, &Finite(v))
            }
            fn skip_field(&mut self, key: &'static str) -> Result<(), S::Error> {
                self.0.skip_field(key)
            }
            fn end(self) -> Result<S::Ok, S::Error> {
                self.0.end()
            }
        }
    };
}
compound_fields!(SerializeStruct);
compound_fields!(SerializeStructVariant);

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Serialize;
    use std::collections::BTreeMap;

    #[derive(Serialize)]
    struct Item {
        name: &'static str,
        price: f64,
        tags: Vec<Option<f32>>,
        nested: BTreeMap<&'static str, (f64, u8)>,
    }

    #[test]
    fn compact_and_raw_unicode() {
        let v = serde_json::json!({"a": "Ä ✓", "b": [1, 2.5, null]});
        assert_eq!(String::from_utf8(to_vec(&v).unwrap()).unwrap(), r#"{"a":"Ä ✓","b":[1,2.5,null]}"#);
    }

    #[test]
    fn refuses_non_finite_anywhere() {
        let ok = Item { name: "x", price: 1.5, tags: vec![Some(1.0), None], nested: BTreeMap::from([("k", (2.0, 1))]) };
        assert!(to_vec(&ok).is_ok());
        let cases = [
            Item { price: f64::NAN, ..Item { name: "x", price: 0.0, tags: vec![], nested: BTreeMap::new() } },
            Item { name: "x", price: 0.0, tags: vec![None, Some(f32::INFINITY)], nested: BTreeMap::new() },
            Item { name: "x", price: 0.0, tags: vec![], nested: BTreeMap::from([("k", (f64::NEG_INFINITY, 1))]) },
        ];
        for c in &cases {
            let err = to_vec(c).unwrap_err();
            assert!(err.to_string().contains("NaN and Infinity"), "{err}");
        }
        assert!(to_vec(&[f64::NAN]).is_err());
    }
}
