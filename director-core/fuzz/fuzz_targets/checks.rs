//! What the fuzz targets assert, shared with the replay of their corpora by the test command
//! (`director-core/tests/fuzz_corpus.rs`).

/// The longest error message either parser may give, whatever the input (a value is quoted at
/// most ~80 characters long).
pub const MAX_MESSAGE: usize = 400;

/// Any bytes as a `director.toml` overlay: never a panic; an error points inside the text and
/// its message is bounded.
pub fn overlay(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Err(e) = director_core::Settings::parse(text) {
        let lines = text.split('\n').count();
        assert!(
            e.line >= 1 && e.line as usize <= lines,
            "line {} of {lines}",
            e.line
        );
        assert!(e.column >= 1, "column {}", e.column);
        assert!(
            e.message.len() <= MAX_MESSAGE,
            "a message of {} bytes",
            e.message.len()
        );
    }
}

/// Any bytes as a control request line: never a panic; a request reads back from its own
/// JSON as the same request; a refusal is bounded.
pub fn control(data: &[u8]) {
    let Ok(line) = std::str::from_utf8(data) else {
        return;
    };
    match director_core::control::read_request(line) {
        Ok(request) => {
            let json = serde_json::to_string(&request).expect("a request serializes");
            assert_eq!(director_core::control::read_request(&json), Ok(request));
        }
        Err(why) => assert!(why.len() <= MAX_MESSAGE, "a refusal of {} bytes", why.len()),
    }
}
