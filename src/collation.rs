//! Text order as PostgreSQL's collations make it, for the legacy keeper's `version DESC`.
//!
//! PostgreSQL compares text with the collation's provider: bytes for `C`/`POSIX`, glibc's
//! `strcoll_l` for libc locales, ICU's `ucol_strcollUTF8` for ICU ones, and for a deterministic
//! collation breaks a tie (result 0 for different strings) by byte order (`strcmp`). We call
//! the same libraries: glibc through `libc`, ICU by loading the system's libicu at run time
//! (the one Debian's PostgreSQL links), so the answers are PostgreSQL's own.

use std::cmp::Ordering;
use std::ffi::{c_char, c_int, c_void, CString};
use std::fmt;

/// Which library orders the text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Provider {
    /// Byte order: `C`, `POSIX`, and the code-point orders of UTF-8 (`pg_c_utf8`, builtin).
    Bytes,
    Libc,
    Icu,
}

/// A collation as PostgreSQL names it: `C`, `en_US.UTF-8` (libc), `en-US-x-icu` or `en-US`
/// (ICU).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CollationName {
    pub provider: Provider,
    /// The locale the provider opens (`en_US.UTF-8`, `en-US`, `und`); `C` for bytes.
    pub locale: String,
}

impl CollationName {
    pub fn c() -> Self {
        CollationName { provider: Provider::Bytes, locale: "C".into() }
    }

    pub fn libc(locale: &str) -> Self {
        match locale {
            "C" | "POSIX" => CollationName { provider: Provider::Bytes, locale: locale.into() },
            _ => CollationName { provider: Provider::Libc, locale: locale.into() },
        }
    }

    pub fn icu(locale: &str) -> Self {
        CollationName { provider: Provider::Icu, locale: locale.into() }
    }

    /// Reads a collation name as `--collation`, `COLLATE` clauses and pg_dump write them.
    /// ICU names end in `-x-icu` or are BCP 47 tags (`en-US`, `und`); libc names are locale
    /// names (`en_US.UTF-8`, `de_DE.utf8`, `C.UTF-8`).
    pub fn parse(name: &str) -> Result<Self, String> {
        let name = name.trim();
        if name.is_empty() {
            return Err("an empty collation name".into());
        }
        if name.contains(" ICU_RULES ") {
            return Err("ICU tailoring rules (ICU_RULES), which rehearse does not model".into());
        }
        if name.contains('"') {
            return Err("a collation of the database's own (CREATE COLLATION), which rehearse does not read".into());
        }
        if let Some(locale) = name.strip_suffix("-x-icu") {
            return Ok(CollationName::icu(locale));
        }
        match name {
            "C" | "POSIX" => return Ok(CollationName::libc(name)),
            "ucs_basic" | "pg_c_utf8" | "pg_unicode_fast" => {
                return Ok(CollationName { provider: Provider::Bytes, locale: name.into() })
            }
            "default" => return Err("`default` is the database's collation: name it instead".into()),
            _ => {}
        }
        let libc_like = name.contains(['.', '_', '@']) || name.starts_with("C.");
        if libc_like {
            return Ok(CollationName::libc(name));
        }
        if name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-') {
            return Ok(CollationName::icu(name));
        }
        Err(format!("`{name}` is neither a libc locale (en_US.UTF-8) nor an ICU locale (en-US, und-x-icu)"))
    }

    pub fn provider_name(&self) -> &'static str {
        match self.provider {
            Provider::Bytes => "bytes",
            Provider::Libc => "libc",
            Provider::Icu => "icu",
        }
    }
}

impl fmt::Display for CollationName {
    /// PostgreSQL's name for the collation: ICU ones with their `-x-icu` suffix.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.provider {
            Provider::Icu => write!(f, "{}-x-icu", self.locale),
            _ => write!(f, "{}", self.locale),
        }
    }
}

/// An open collation that compares text as PostgreSQL does with it.
pub struct Collator {
    name: CollationName,
    inner: Inner,
}

enum Inner {
    Bytes,
    Libc(libc::locale_t),
    Icu(*mut c_void, &'static icu::Api),
}

extern "C" {
    // glibc; the libc crate does not declare it.
    fn strcoll_l(a: *const c_char, b: *const c_char, locale: libc::locale_t) -> c_int;
}

impl Collator {
    /// Opens the collation; an environment error names what to install when the locale or
    /// ICU is missing on this machine.
    pub fn open(name: &CollationName) -> Result<Collator, String> {
        let inner = match name.provider {
            Provider::Bytes => Inner::Bytes,
            Provider::Libc => {
                // PostgreSQL names a UTF-8 locale's collation also without its codeset (`en_US`
                // is `en_US.utf8` in a UTF-8 database), and rehearse reads UTF-8.
                let mut names = vec![name.locale.clone()];
                if !name.locale.contains('.') {
                    names.push(format!("{}.UTF-8", name.locale));
                }
                let handle = names
                    .iter()
                    .filter_map(|n| CString::new(n.as_str()).ok())
                    // SAFETY: a valid C string; a null base asks for a new object.
                    .map(|n| unsafe { libc::newlocale(libc::LC_COLLATE_MASK, n.as_ptr(), std::ptr::null_mut()) })
                    .find(|handle| !handle.is_null())
                    .unwrap_or(std::ptr::null_mut());
                if handle.is_null() {
                    return Err(format!(
                        "the libc locale {} is not installed on this machine (`locale -a` lists those that are): install Debian's `locales` package and generate it (add it to /etc/locale.gen and run locale-gen; scripts/setup.sh does this for en_US.UTF-8)",
                        name.locale
                    ));
                }
                Inner::Libc(handle)
            }
            Provider::Icu => {
                let api = icu::api()?;
                let collator = api.open(&name.locale)?;
                Inner::Icu(collator, api)
            }
        };
        Ok(Collator { name: name.clone(), inner })
    }

    pub fn name(&self) -> &CollationName {
        &self.name
    }

    /// PostgreSQL's `varstr_cmp` for a deterministic collation: the provider's order, then
    /// bytes when the provider calls two different strings equal.
    pub fn compare(&self, a: &str, b: &str) -> Ordering {
        if a == b {
            return Ordering::Equal;
        }
        self.provider_order(a, b).then_with(|| a.as_bytes().cmp(b.as_bytes()))
    }

    fn provider_order(&self, a: &str, b: &str) -> Ordering {
        match &self.inner {
            Inner::Bytes => a.as_bytes().cmp(b.as_bytes()),
            Inner::Libc(locale) => {
                // PostgreSQL text holds no NUL byte; should one come, bytes decide.
                if a.contains('\0') || b.contains('\0') {
                    return Ordering::Equal;
                }
                with_nul(a, |x| {
                    with_nul(b, |y| {
                        // SAFETY: two NUL-terminated strings and a locale object that lives as long as self.
                        unsafe { strcoll_l(x, y, *locale) }.cmp(&0)
                    })
                })
            }
            Inner::Icu(collator, api) => api.compare(*collator, a, b),
        }
    }
}

/// Calls `f` with `text` NUL-terminated, on the stack when short (versions are), as
/// PostgreSQL's `varstr_cmp` copies its arguments before `strcoll_l`.
fn with_nul<T>(text: &str, f: impl FnOnce(*const c_char) -> T) -> T {
    let mut stack = [0u8; 256];
    if text.len() < stack.len() {
        stack[..text.len()].copy_from_slice(text.as_bytes());
        return f(stack.as_ptr().cast());
    }
    let owned = CString::new(text).expect("checked for NUL bytes");
    f(owned.as_ptr())
}

impl Drop for Collator {
    fn drop(&mut self) {
        match &self.inner {
            Inner::Bytes => {}
            // SAFETY: the object was made by newlocale / ucol_open and is not used again.
            Inner::Libc(locale) => unsafe { libc::freelocale(*locale) },
            Inner::Icu(collator, api) => unsafe { (api.close)(*collator) },
        }
    }
}

impl fmt::Debug for Collator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Collator({})", self.name)
    }
}

/// The system's ICU, loaded at run time: its symbols carry the major version
/// (`ucol_open_72`), and only ICU collations need it.
mod icu {
    use std::cmp::Ordering;
    use std::ffi::{c_char, c_int, c_void, CStr, CString};
    use std::sync::OnceLock;

    type Open = unsafe extern "C" fn(*const c_char, *mut c_int) -> *mut c_void;
    type Close = unsafe extern "C" fn(*mut c_void);
    type StrcollUtf8 = unsafe extern "C" fn(*const c_void, *const c_char, i32, *const c_char, i32, *mut c_int) -> c_int;
    type ErrorName = unsafe extern "C" fn(c_int) -> *const c_char;

    pub struct Api {
        pub version: u32,
        open: Open,
        pub close: Close,
        strcoll: StrcollUtf8,
        error_name: ErrorName,
    }

    // SAFETY: function pointers into a library that stays loaded.
    unsafe impl Send for Api {}
    unsafe impl Sync for Api {}

    /// ICU majors to look for, newest first (Debian 12 ships 72).
    const MAJORS: std::ops::RangeInclusive<u32> = 50..=90;

    pub fn api() -> Result<&'static Api, String> {
        static API: OnceLock<Result<Api, String>> = OnceLock::new();
        API.get_or_init(load).as_ref().map_err(Clone::clone)
    }

    fn load() -> Result<Api, String> {
        for version in MAJORS.rev() {
            let file = CString::new(format!("libicui18n.so.{version}")).expect("no NUL");
            // SAFETY: dlopen with a valid name; the handle is kept for the process's life.
            let handle = unsafe { libc::dlopen(file.as_ptr(), libc::RTLD_NOW | libc::RTLD_LOCAL) };
            if handle.is_null() {
                continue;
            }
            let symbol = |name: &str| -> Result<*mut c_void, String> {
                let versioned = CString::new(format!("{name}_{version}")).expect("no NUL");
                let plain = CString::new(name).expect("no NUL");
                // SAFETY: a valid handle and symbol names.
                let found = unsafe {
                    let versioned = libc::dlsym(handle, versioned.as_ptr());
                    if versioned.is_null() {
                        libc::dlsym(handle, plain.as_ptr())
                    } else {
                        versioned
                    }
                };
                if found.is_null() {
                    Err(format!("libicui18n.so.{version} has no {name}"))
                } else {
                    Ok(found)
                }
            };
            // SAFETY: the symbols have these C signatures in every ICU since 50.
            return unsafe {
                Ok(Api {
                    version,
                    open: std::mem::transmute::<*mut c_void, Open>(symbol("ucol_open")?),
                    close: std::mem::transmute::<*mut c_void, Close>(symbol("ucol_close")?),
                    strcoll: std::mem::transmute::<*mut c_void, StrcollUtf8>(symbol("ucol_strcollUTF8")?),
                    error_name: std::mem::transmute::<*mut c_void, ErrorName>(symbol("u_errorName")?),
                })
            };
        }
        Err("ICU collations need the system's ICU library (libicui18n.so.N), which is not installed: install Debian's libicu72 (scripts/setup.sh does)".into())
    }

    impl Api {
        pub fn open(&self, locale: &str) -> Result<*mut c_void, String> {
            let name = CString::new(locale).map_err(|_| "an ICU locale with a NUL byte")?;
            let mut status: c_int = 0;
            // SAFETY: a valid C string and status out-parameter.
            let collator = unsafe { (self.open)(name.as_ptr(), &mut status) };
            // U_FAILURE is a status above zero; warnings (below zero) include a fallback locale.
            if status > 0 || collator.is_null() {
                return Err(format!(
                    "ICU {} cannot open a collator for `{locale}`: {}",
                    self.version,
                    self.error(status)
                ));
            }
            Ok(collator)
        }

        pub fn compare(&self, collator: *mut c_void, a: &str, b: &str) -> Ordering {
            let mut status: c_int = 0;
            let (len_a, len_b) = (i32::try_from(a.len()), i32::try_from(b.len()));
            let (Ok(len_a), Ok(len_b)) = (len_a, len_b) else { return Ordering::Equal };
            // SAFETY: UTF-8 buffers with their lengths and an open collator.
            let result =
                unsafe { (self.strcoll)(collator, a.as_ptr().cast(), len_a, b.as_ptr().cast(), len_b, &mut status) };
            // UCOL_LESS = -1, UCOL_EQUAL = 0, UCOL_GREATER = 1.
            result.cmp(&0)
        }

        fn error(&self, status: c_int) -> String {
            // SAFETY: u_errorName returns a static string for any code.
            unsafe { CStr::from_ptr((self.error_name)(status)) }.to_string_lossy().into_owned()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_as_postgresql_spells_them() {
        for (name, provider, locale, display) in [
            ("C", Provider::Bytes, "C", "C"),
            ("POSIX", Provider::Bytes, "POSIX", "POSIX"),
            ("C.UTF-8", Provider::Libc, "C.UTF-8", "C.UTF-8"),
            ("en_US.UTF-8", Provider::Libc, "en_US.UTF-8", "en_US.UTF-8"),
            ("en_US.utf8", Provider::Libc, "en_US.utf8", "en_US.utf8"),
            ("de_DE.UTF-8", Provider::Libc, "de_DE.UTF-8", "de_DE.UTF-8"),
            ("en-US-x-icu", Provider::Icu, "en-US", "en-US-x-icu"),
            ("und-x-icu", Provider::Icu, "und", "und-x-icu"),
            ("en-US", Provider::Icu, "en-US", "en-US-x-icu"),
            ("und", Provider::Icu, "und", "und-x-icu"),
        ] {
            let parsed = CollationName::parse(name).unwrap();
            assert_eq!((parsed.provider, parsed.locale.as_str()), (provider, locale), "{name}");
            assert_eq!(parsed.to_string(), display, "{name}");
        }
        assert!(CollationName::parse("").is_err());
        assert!(CollationName::parse("en US").is_err());
        assert!(CollationName::parse("\"public\".\"mine\"").is_err());
        assert!(CollationName::parse("und-x-icu ICU_RULES '&a < b'").is_err());
    }

    fn sorted(collation: &str, words: &[&str]) -> Vec<String> {
        let collator = Collator::open(&CollationName::parse(collation).unwrap()).unwrap();
        let mut words: Vec<String> = words.iter().map(|w| w.to_string()).collect();
        words.sort_by(|a, b| collator.compare(a, b));
        words
    }

    const TRAPS: [&str; 6] = ["v1.0", "V2.0", "1.0.0-RC1", "1.0.0-beta", "1.0_rc", "1.0.1"];

    #[test]
    fn bytes_order_uppercase_before_lowercase() {
        assert_eq!(sorted("C", &TRAPS), ["1.0.0-RC1", "1.0.0-beta", "1.0.1", "1.0_rc", "V2.0", "v1.0"]);
    }

    #[test]
    fn glibc_en_us_orders_linguistically() {
        // glibc 2.36's en_US.UTF-8 (ISO 14651): punctuation is ignored at first (`1.0_rc` reads
        // `10rc`, after `101`), case only breaks ties; `sort` in that locale agrees.
        let order = sorted("en_US.UTF-8", &TRAPS);
        assert_eq!(order, ["1.0.0-beta", "1.0.0-RC1", "1.0.1", "1.0_rc", "v1.0", "V2.0"]);
        assert_eq!(sorted("en_US.utf8", &TRAPS), order);
        // PostgreSQL's alias without the codeset.
        assert_eq!(sorted("en_US", &TRAPS), order);
    }

    #[test]
    fn icu_root_and_en_us_agree() {
        // ICU does not ignore punctuation: `_` sorts before `.`, both before digits.
        let order = sorted("en-US-x-icu", &TRAPS);
        assert_eq!(order, ["1.0_rc", "1.0.0-beta", "1.0.0-RC1", "1.0.1", "v1.0", "V2.0"]);
        assert_eq!(sorted("und-x-icu", &TRAPS), order);
    }

    #[test]
    fn ties_break_by_bytes_as_a_deterministic_collation() {
        // ICU at its default strength tells these apart only at the identical level, which is
        // off: PostgreSQL then orders them by bytes.
        let collator = Collator::open(&CollationName::icu("und")).unwrap();
        let (composed, decomposed) = ("\u{e9}", "e\u{301}");
        assert_eq!(collator.provider_order(composed, decomposed), Ordering::Equal);
        assert_eq!(collator.compare(composed, decomposed), composed.as_bytes().cmp(decomposed.as_bytes()));
    }

    #[test]
    fn a_missing_locale_names_what_to_install() {
        let error = Collator::open(&CollationName::libc("xx_YY.UTF-8")).unwrap_err();
        assert!(error.contains("locales") && error.contains("xx_YY.UTF-8"), "{error}");
    }
}
