//! Booleans as sqlx's `Any` driver hands them over: PostgreSQL sends a
//! boolean, SQLite (which has none) an integer. `Any` decodes `bool` only
//! from the former, and refuses SQLite columns declared `BOOLEAN` outright,
//! so the statements read boolean columns as `CAST(… AS INTEGER)` and the
//! rows decode them through [`IntBool`].

use sqlx::any::{Any, AnyTypeInfo, AnyTypeInfoKind, AnyValueRef};
use sqlx::error::{BoxDynError, UnexpectedNullError};
use sqlx::{Decode, Type, ValueRef};

/// A boolean column read as a boolean or an integer (non-zero = true).
pub(crate) struct IntBool(Option<bool>);

impl Type<Any> for IntBool {
    fn type_info() -> AnyTypeInfo {
        <bool as Type<Any>>::type_info()
    }

    fn compatible(ty: &AnyTypeInfo) -> bool {
        ty.kind() == AnyTypeInfoKind::Bool || ty.kind().is_integer()
    }
}

impl<'r> Decode<'r, Any> for IntBool {
    fn decode(value: AnyValueRef<'r>) -> Result<Self, BoxDynError> {
        if value.is_null() {
            return Ok(IntBool(None));
        }
        let flag = if value.type_info().kind() == AnyTypeInfoKind::Bool {
            <bool as Decode<Any>>::decode(value)?
        } else {
            <i64 as Decode<Any>>::decode(value)? != 0
        };
        Ok(IntBool(Some(flag)))
    }
}

impl From<IntBool> for Option<bool> {
    fn from(value: IntBool) -> Self {
        value.0
    }
}

impl TryFrom<IntBool> for bool {
    type Error = UnexpectedNullError;

    fn try_from(value: IntBool) -> Result<Self, Self::Error> {
        value.0.ok_or(UnexpectedNullError)
    }
}
