/// The dashboard's static parts, served by the orchestrator: no build step, no CDN, works offline.
///
/// The shell holds no data; `app.js` signs in through `POST /v1/session` (the token is sent once
/// and never stored: the session lives in an HttpOnly cookie), then renders `/dashboard/view`
/// again whenever `/v1/events` reports a change.
enum DashboardAssets {
    static let shell = """
        <!doctype html>
        <html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
        <title>wu orchestrator</title><link rel="icon" href="data:,"><link rel="stylesheet" href="/dashboard/app.css">
        <script src="/dashboard/app.js" defer></script></head>
        <body data-signed-in="false">
        <header><h1>wu <span>orchestrator</span></h1><span id="who"></span><span id="live" data-state="offline">offline</span>
        <button id="signout" type="button" hidden>Sign out</button></header>
        <main>
        <form id="signin" hidden><h2>Sign in</h2>
        <p>Paste a token from <code>wu-orchestrator token create</code>. It is traded for a session cookie and not kept by the page.</p>
        <input id="token" type="password" autocomplete="off" spellcheck="false" placeholder="wu_…" aria-label="token" required>
        <button type="submit">Sign in</button><p id="signin-error" role="alert"></p></form>
        <p id="notice" role="status" hidden></p>
        <div id="view" aria-live="polite"></div>
        </main>
        <noscript>The dashboard needs JavaScript; the same data is at /v1/jobs, /v1/runners and /v1/leaderboard.</noscript>
        </body></html>
        """

    static let script = #"""
        'use strict';
        // wu dashboard: sign in, then re-render /dashboard/view on every /v1/events message (debounced).
        // No polling: the event stream drives every refresh, and reconnects by itself after a restart; the one timer
        // renders again when the server says a runner's status changes by the clock alone.
        (() => {
          const $ = (id) => document.getElementById(id);
          const kinds = ['job', 'unit', 'copy', 'runner'];
          let me = null;
          let source = null;
          let timer = null;
          let inflight = false;
          let again = false;
          let backoff = 500;
          let statusTimer = null;

          function live(state) {
            $('live').dataset.state = state;
            $('live').textContent = state;
          }

          // The hash holds the view's state: #job=ID, #state=failed, or #state=failed&job=ID.
          function viewQuery() {
            const hash = new URLSearchParams(location.hash.slice(1));
            const query = new URLSearchParams();
            const job = hash.get('job');
            const state = hash.get('state');
            if (state && /^[a-z]{1,16}$/.test(state)) query.set('state', state);
            if (job && /^\d{1,19}$/.test(job)) query.set('job', job);
            const text = query.toString();
            return text ? '?' + text : '';
          }

          function schedule(delay = 250) {
            if (timer === null) timer = setTimeout(refresh, delay);
          }

          async function refresh() {
            timer = null;
            if (!me) return;
            if (inflight) { again = true; return; }
            inflight = true;
            try {
              const response = await fetch('/dashboard/view' + viewQuery(), { cache: 'no-store' });
              if (response.status === 401) { signedOut(); return; }
              if (response.ok && me) {
                // The server escapes every user-supplied string in this fragment (DashboardView).
                $('view').innerHTML = await response.text();
                // Runner status changes with the clock (a silent runner turns stale): the server says when.
                clearTimeout(statusTimer);
                const meta = $('view-meta');
                if (meta) statusTimer = setTimeout(() => schedule(0), Math.min(Number(meta.dataset.renderAgainInMs), 3600000) + 250);
                document.body.dataset.renders = String(Number(document.body.dataset.renders || 0) + 1);
              }
            } catch (error) {
              // The server is away; the event stream's reconnection refreshes the view.
            } finally {
              inflight = false;
              if (again) { again = false; schedule(0); }
            }
          }

          function connect() {
            if (source) source.close();
            source = new EventSource('/v1/events');
            source.onopen = () => { backoff = 500; live('live'); schedule(0); };
            source.onerror = () => {
              live('reconnecting');
              // The browser retries by itself after a dropped stream; after a refused one (401, 5xx) it gives up: retry here.
              if (source && source.readyState === EventSource.CLOSED) {
                source = null;
                setTimeout(retry, backoff);
                backoff = Math.min(backoff * 2, 10000);
              }
            };
            for (const kind of kinds) source.addEventListener(kind, () => schedule());
          }

          async function retry() {
            if (!me) return;
            try {
              const response = await fetch('/v1/session', { cache: 'no-store' });
              if (response.status === 401) { signedOut(); return; }
            } catch (error) {
              // Still down: the new EventSource fails and we come back here, more slowly.
            }
            if (me && !source) connect();
          }

          function signedOut() {
            me = null;
            clearTimeout(statusTimer);
            if (source) { source.close(); source = null; }
            $('view').replaceChildren();
            notice('', false);
            $('who').textContent = '';
            $('signout').hidden = true;
            $('signin').hidden = false;
            document.body.dataset.signedIn = 'false';
            live('offline');
          }

          async function start() {
            let response;
            try {
              response = await fetch('/v1/session', { cache: 'no-store' });
            } catch (error) {
              setTimeout(start, 2000);
              return;
            }
            if (!response.ok) { signedOut(); return; }
            me = await response.json();
            $('who').textContent = me.name + ' (' + me.role + ')';
            $('signin').hidden = true;
            $('signout').hidden = false;
            document.body.dataset.signedIn = 'true';
            document.body.dataset.role = me.role;
            connect();
            schedule(0);
          }

          $('signin').addEventListener('submit', async (event) => {
            event.preventDefault();
            $('signin-error').textContent = '';
            const token = $('token').value.trim();
            $('token').value = '';
            try {
              const response = await fetch('/v1/session', {
                method: 'POST',
                headers: { 'content-type': 'application/json' },
                body: JSON.stringify({ token }),
              });
              if (response.ok) { await start(); return; }
              const body = await response.json().catch(() => null);
              $('signin-error').textContent = 'Sign-in failed: ' + ((body && body.error && body.error.message) || response.status);
            } catch (error) {
              $('signin-error').textContent = 'Sign-in failed: the orchestrator cannot be reached.';
            }
          });

          $('signout').addEventListener('click', async () => {
            try { await fetch('/v1/session', { method: 'DELETE' }); } catch (error) { /* the cookie expires anyway */ }
            signedOut();
          });

          // What an action did (or why it was refused): outside #view, so a re-render keeps it.
          function notice(text, failed) {
            $('notice').textContent = text;
            $('notice').dataset.failed = failed ? 'true' : 'false';
            $('notice').hidden = text === '';
          }

          // Pause, resume and cancel buttons on the job view post to the API with the session cookie;
          // the browser adds Origin, which the server checks (SameOriginMiddleware).
          $('view').addEventListener('click', async (event) => {
            const button = event.target.closest('button[data-action]');
            if (!button) return;
            const action = button.dataset.action;
            const job = button.dataset.jobId;
            if (!/^[a-z]{1,16}$/.test(action) || !/^\d{1,19}$/.test(job)) return;
            if (action === 'cancel' && !confirm('Cancel job ' + job + '? Its units stop and it cannot be resumed.')) return;
            button.disabled = true;
            try {
              const response = await fetch('/v1/jobs/' + job + '/' + action, { method: 'POST', cache: 'no-store' });
              const body = await response.json().catch(() => null);
              if (response.status === 401) { signedOut(); return; }
              if (response.ok) notice('Job ' + job + ' is ' + body.state + '.', false);
              else notice(action + ' refused: ' + ((body && body.error && body.error.message) || response.status), true);
            } catch (error) {
              notice(action + ' failed: the orchestrator cannot be reached.', true);
            }
            schedule(0);
          });

          window.addEventListener('hashchange', () => { notice('', false); schedule(0); });
          start();
        })();
        """#

    static let stylesheet = """
        :root { --valid: #2e9d5b; --running: #3a7bd5; --failed: #d64545; --cancelled: #8a8f98; --queued: #c9ced6; --ink: #1d2330; --muted: #6b7280;
          --line: #e3e6ea; --bg: #f6f7f9; }
        [hidden] { display: none !important; }
        * { box-sizing: border-box; }
        body { margin: 0; font: 14px/1.4 system-ui, -apple-system, "Segoe UI", sans-serif; color: var(--ink); background: var(--bg); }
        header { display: flex; align-items: center; gap: 1em; padding: .6em 1.2em; background: #1d2330; color: #fff; }
        header h1 { font-size: 1.2em; margin: 0; flex: 1; }
        header h1 span { font-weight: normal; color: #aab2bf; }
        header button { background: transparent; color: #fff; border: 1px solid #aab2bf; border-radius: 4px; padding: .2em .8em; cursor: pointer; }
        #live { font-size: .85em; padding: .1em .6em; border-radius: 1em; background: #555; }
        #live[data-state="live"] { background: var(--valid); }
        #live[data-state="reconnecting"] { background: #b7791f; }
        main { padding: 1em 1.2em; }
        #view { display: grid; grid-template-columns: repeat(auto-fit, minmax(34em, 1fr)); gap: 1em; }
        section { background: #fff; border: 1px solid var(--line); border-radius: 6px; padding: .6em 1em 1em; overflow-x: auto; }
        #jobs-section, #job-detail, #runners-section { grid-column: 1 / -1; }
        h2 { font-size: 1em; margin: .3em 0 .6em; }
        form#signin { max-width: 40em; background: #fff; border: 1px solid var(--line); border-radius: 6px; padding: 1em; }
        form#signin input { width: 100%; padding: .4em; font: inherit; margin-bottom: .6em; }
        #signin-error { color: var(--failed); }
        table { border-collapse: collapse; width: 100%; }
        th { text-align: left; color: var(--muted); font-weight: 600; font-size: .85em; }
        td, th { padding: .25em .6em; border-bottom: 1px solid var(--line); white-space: nowrap; }
        td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
        td.name { white-space: normal; word-break: break-all; }
        td.empty, li.empty { color: var(--muted); font-style: italic; }
        a { color: var(--running); text-decoration: none; }
        a:hover { text-decoration: underline; }
        svg.bar { width: 14em; height: 12px; background: var(--queued); border-radius: 2px; vertical-align: middle; }
        svg.chart { width: 100%; height: 7em; }
        rect.valid { fill: var(--valid); }
        rect.running { fill: var(--running); }
        rect.failed { fill: var(--failed); }
        rect.cancelled { fill: var(--cancelled); }
        rect.queued { fill: var(--queued); }
        line.axis { stroke: var(--muted); stroke-width: 1; }
        .legend { color: var(--muted); font-size: .85em; margin: .4em 0 0; }
        .key { display: inline-block; width: .8em; height: .8em; margin: 0 .3em 0 .6em; border-radius: 2px; vertical-align: -1px; }
        .key.valid { background: var(--valid); } .key.running { background: var(--running); }
        .key.failed { background: var(--failed); } .key.queued { background: var(--queued); }
        .key.cancelled { background: var(--cancelled); }
        .badge { display: inline-block; padding: 0 .5em; border-radius: 1em; font-size: .85em; background: #eef0f3; }
        .badge.completed, .badge.valid, .badge.active { background: #dff3e6; color: #1f6b3e; }
        .badge.running, .badge.leased, .badge.uploaded, .badge.aggregating { background: #e1ebfa; color: #24508f; }
        .badge.failed, .badge.invalid, .badge.offline { background: #fbe3e3; color: #922; }
        .badge.stale, .badge.paused { background: #fcefd9; color: #8a5a12; }
        .badge.cancelled { background: #e6e7ea; color: #4b5160; }
        #job-filter { font-size: .85em; margin: 0 0 .5em; }
        #job-filter a.current { font-weight: 600; color: var(--ink); }
        ul.waiting { color: #8a5a12; }
        h3 { font-size: .9em; margin: .6em 0 .2em; }
        #failures { list-style: none; padding: 0; margin: 0; }
        #failures li { border-bottom: 1px solid var(--line); padding: .3em 0; }
        #failures p { margin: 0; }
        .reason { color: var(--failed); }
        .age { color: var(--muted); }
        pre.stderr { margin: .3em 0 0; padding: .4em .6em; background: #1d2330; color: #e6e6e6; border-radius: 4px; max-height: 10em;
          overflow: auto; white-space: pre-wrap; word-break: break-all; font-size: .85em; }
        ul.reasons { color: var(--failed); }
        .error { color: var(--failed); }
        a.close { float: right; font-weight: normal; }
        p.actions { margin: 0 0 .6em; }
        p.actions button { font: inherit; padding: .2em .9em; border: 1px solid var(--line); border-radius: 4px; background: #fff; cursor: pointer; }
        p.actions button.cancel { color: var(--failed); border-color: var(--failed); }
        p.actions button:disabled { opacity: .5; cursor: default; }
        #notice { margin: 0 0 1em; padding: .4em .8em; border-radius: 4px; background: #e1ebfa; color: #24508f; }
        #notice[data-failed="true"] { background: #fbe3e3; color: #922; }
        code.digest { font-size: .85em; }
        """
}
