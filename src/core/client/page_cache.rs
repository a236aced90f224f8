//! The page leaving and coming back (`pagehide` / `pageshow`, the back-forward cache), as
//! phoenix.js handles them: a page that goes away with a live connection closes it itself (a
//! browser cuts the WebSockets of a page entering its back-forward cache, or keeps such a page
//! out of it; closed on purpose, the client does not take it for a lost connection to retry),
//! and connects again the moment the page is shown, unless the app called `connect` or
//! `disconnect` in between.

use crate::core::client::Client;

impl Client {
    /// `pagehide`: a client that wants to be connected (open, connecting, or waiting to retry)
    /// disconnects, and remembers to connect again on `pageshow`. Its channels rejoin then, as
    /// after any reconnect.
    pub fn page_hidden(&mut self, now: u64) {
        if !self.want_connected {
            return;
        }
        self.disconnect_because(now, "page hidden");
        self.resume_on_pageshow = true;
    }

    /// `pageshow`: connects again when `pagehide` disconnected and nothing was asked since.
    pub fn page_shown(&mut self, now: u64) {
        if ::core::mem::take(&mut self.resume_on_pageshow) {
            self.connect(now);
        }
    }
}
