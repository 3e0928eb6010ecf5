// The live notification centre: bell with unread count, panel, low-stock toasts and a connection
// indicator. It runs entirely in the browser on an EventSource, so it keeps working (and shows
// "Reconnecting") while the app's backend restarts, when Reflex's own websocket is down too.
import React, { useCallback, useEffect, useRef, useState } from "react";

// The stream names each message by its notice type: only the types listed here are heard (notice v2).
const NOTICE_TYPES = [
  "product_created",
  "product_updated",
  "product_deleted",
  "low_stock_warning",
  "stock_transferred",
  "location_low_stock_warning",
];
const MAX_NOTICES = 100;
const READ_KEY = "inventory.notifications.lastReadAt";

function readMark() {
  try {
    return window.localStorage.getItem(READ_KEY) || "";
  } catch (error) {
    return "";
  }
}

function unreadAfter(notices, mark) {
  return notices.filter((n) => !mark || n.time > mark).length;
}

export function NotificationCenter({ streamUrl, recentUrl }) {
  const [notices, setNotices] = useState([]);
  const [readMarkTime, setReadMarkTime] = useState("");
  const [status, setStatus] = useState("connecting");
  const [open, setOpen] = useState(false);
  const [toasts, setToasts] = useState([]);
  const seen = useRef(new Set());

  const add = useCallback((incoming, { toast } = { toast: false }) => {
    const fresh = incoming.filter((n) => n && n.id && !seen.current.has(n.id));
    if (!fresh.length) return;
    fresh.forEach((n) => seen.current.add(n.id));
    setNotices((current) =>
      [...fresh, ...current].sort((a, b) => (a.time < b.time ? 1 : -1)).slice(0, MAX_NOTICES)
    );
    if (toast) {
      const warnings = fresh.filter((n) => n.severity === "warning");
      if (warnings.length) {
        setToasts((current) => [...current, ...warnings].slice(-4));
        warnings.forEach((w) =>
          setTimeout(() => setToasts((current) => current.filter((t) => t.id !== w.id)), 8000)
        );
      }
    }
    window.dispatchEvent(new CustomEvent("inventory:notice", { detail: fresh }));
  }, []);

  useEffect(() => {
    setReadMarkTime(readMark());
    let cancelled = false;
    // The stream's position (its last SSE id): a new EventSource opens `after` it, so a reconnect
    // replays exactly what was missed; the server sends a `gap` when it cannot, and the list reloads.
    let position = "";
    const loadRecent = () =>
      fetch(recentUrl, { headers: { Accept: "application/json" } })
        .then((response) => (response.ok ? response.json() : { data: [] }))
        .then((body) => {
          if (cancelled) return;
          add(body.data || []);
          if (!position && body.position) position = body.position;
        })
        .catch(() => {});

    let source = null;
    let retryTimer = null;
    let attempt = 0;
    const remember = (message) => {
      if (message.lastEventId) position = message.lastEventId;
    };
    const connect = () => {
      if (cancelled) return;
      source = new EventSource(position ? `${streamUrl}?after=${encodeURIComponent(position)}` : streamUrl);
      source.onopen = () => {
        attempt = 0;
        setStatus("live");
      };
      source.onerror = () => {
        setStatus("reconnecting");
        // The browser retries by itself (with Last-Event-ID) unless the server answered with an
        // error status; then the source is CLOSED and we open a new one with backoff.
        if (source.readyState === EventSource.CLOSED) {
          source.close();
          attempt += 1;
          retryTimer = setTimeout(connect, Math.min(15000, 1000 * 2 ** Math.min(attempt, 4)));
        }
      };
      NOTICE_TYPES.forEach((type) =>
        source.addEventListener(type, (message) => {
          remember(message);
          try {
            add([JSON.parse(message.data)], { toast: true });
          } catch (error) {
            /* an unreadable message is skipped */
          }
        })
      );
      source.addEventListener("gap", (message) => {
        remember(message);
        loadRecent();
      });
    };
    // The list first, then the stream from the list's position: nothing falls between the two.
    loadRecent().then(connect);
    return () => {
      cancelled = true;
      if (retryTimer) clearTimeout(retryTimer);
      if (source) source.close();
    };
  }, [streamUrl, recentUrl, add]);

  const unread = unreadAfter(notices, readMarkTime);
  const markAllRead = () => {
    const newest = notices.length ? notices[0].time : new Date().toISOString();
    try {
      window.localStorage.setItem(READ_KEY, newest);
    } catch (error) {
      /* private mode: keep it in memory only */
    }
    setReadMarkTime(newest);
  };
  const live = status === "live";

  return (
    <div style={{ position: "relative", display: "flex", alignItems: "center", gap: "0.75em" }}>
      <span
        role="status"
        aria-label={`Live updates: ${live ? "live" : "reconnecting"}`}
        data-testid="connection-indicator"
        data-state={live ? "live" : "reconnecting"}
        style={{ display: "inline-flex", alignItems: "center", gap: "0.35em", fontSize: "0.85em", color: "var(--gray-11)" }}
      >
        <span
          aria-hidden="true"
          style={{ width: 8, height: 8, borderRadius: "50%", background: live ? "var(--green-9)" : "var(--amber-9)" }}
        />
        {live ? "Live" : "Reconnecting"}
      </span>
      <button
        type="button"
        aria-label={`Notifications, ${unread} unread`}
        aria-expanded={open}
        aria-haspopup="dialog"
        onClick={() => setOpen(!open)}
        style={{
          position: "relative", border: "1px solid var(--gray-6)", background: "var(--color-panel-solid)",
          borderRadius: "var(--radius-3)", padding: "0.35em 0.6em", cursor: "pointer", fontSize: "1em",
        }}
      >
        <svg aria-hidden="true" width="16" height="16" viewBox="0 0 24 24" fill="none" stroke="currentColor"
          strokeWidth="2" strokeLinecap="round" strokeLinejoin="round" style={{ verticalAlign: "middle" }}>
          <path d="M6 8a6 6 0 0 1 12 0c0 7 3 9 3 9H3s3-2 3-9" />
          <path d="M10.3 21a1.94 1.94 0 0 0 3.4 0" />
        </svg>
        <span
          data-testid="unread-count"
          style={{
            marginLeft: "0.35em", minWidth: "1.4em", display: "inline-block", borderRadius: "999px",
            background: unread ? "var(--red-9)" : "var(--gray-5)", color: unread ? "white" : "var(--gray-11)",
            fontSize: "0.8em", padding: "0 0.4em",
          }}
        >
          {unread}
        </span>
      </button>
      {open && (
        <div
          role="dialog"
          aria-label="Notifications"
          style={{
            position: "absolute", right: 0, top: "2.6em", zIndex: 50, width: "min(380px, 92vw)", maxHeight: "60vh",
            overflowY: "auto", background: "var(--color-panel-solid)", border: "1px solid var(--gray-6)",
            borderRadius: "var(--radius-4)", boxShadow: "0 8px 24px rgba(0,0,0,0.15)", padding: "0.5em",
          }}
        >
          <div style={{ display: "flex", justifyContent: "space-between", alignItems: "center", padding: "0.25em 0.5em" }}>
            <strong>Notifications</strong>
            <button type="button" onClick={markAllRead} style={{ cursor: "pointer" }}>
              Mark all read
            </button>
          </div>
          {notices.length === 0 && <p style={{ padding: "0.5em", color: "var(--gray-11)" }}>No notifications yet.</p>}
          <ul aria-label="Recent notifications" style={{ listStyle: "none", margin: 0, padding: 0 }}>
            {notices.map((n) => (
              <li key={n.id}>
                <a
                  href={n.type === "product_deleted" ? "/" : `/products/${n.product_id}`}
                  data-notice-type={n.type}
                  style={{
                    display: "block", padding: "0.5em", borderRadius: "var(--radius-2)", textDecoration: "none",
                    color: "inherit", fontWeight: !readMarkTime || n.time > readMarkTime ? 600 : 400,
                    borderLeft: `3px solid ${n.severity === "warning" ? "var(--amber-9)" : "var(--indigo-8)"}`,
                    marginBottom: "0.25em",
                  }}
                >
                  <div>{n.title}</div>
                  <div style={{ fontSize: "0.85em", color: "var(--gray-11)" }}>{n.message}</div>
                  <div style={{ fontSize: "0.75em", color: "var(--gray-10)" }}>{new Date(n.time).toLocaleString()}</div>
                </a>
              </li>
            ))}
          </ul>
        </div>
      )}
      <div
        aria-live="polite"
        style={{ position: "fixed", bottom: "1em", right: "1em", zIndex: 60, display: "flex", flexDirection: "column", gap: "0.5em" }}
      >
        {toasts.map((t) => (
          <div
            key={t.id}
            role="alert"
            data-testid="low-stock-toast"
            style={{
              background: "var(--amber-3)", border: "1px solid var(--amber-8)", borderRadius: "var(--radius-3)",
              padding: "0.75em 1em", maxWidth: "320px", boxShadow: "0 4px 12px rgba(0,0,0,0.15)",
            }}
          >
            <strong>{t.title}</strong>
            <div style={{ fontSize: "0.9em" }}>{t.message}</div>
          </div>
        ))}
      </div>
    </div>
  );
}
