/// The dashboard's shell at `GET /`: a sign-in form; no data is shown before a session exists.
enum Dashboard {
    static let html = """
        <!doctype html>
        <html><head><meta charset="utf-8"><title>wu orchestrator</title>
        <style>body{font:14px system-ui,sans-serif;margin:2em}table{border-collapse:collapse}td,th{padding:2px 8px;border-bottom:1px solid #ddd}</style>
        </head><body>
        <h1>wu orchestrator</h1>
        <form id="signin"><input id="token" type="password" placeholder="token" size="70"> <button>Sign in</button></form>
        <div id="main" hidden><p id="who"></p><h2>Jobs</h2><table id="jobs"></table><h2>Events</h2><pre id="events"></pre></div>
        <script>
        const $ = (id) => document.getElementById(id);
        function esc(s) { return String(s).replace(/[&<>"]/g, (c) => ({'&':'&amp;','<':'&lt;','>':'&gt;','"':'&quot;'}[c])); }
        async function show() {
          const who = await fetch('/v1/session'); if (!who.ok) return;
          const me = await who.json(); $('signin').hidden = true; $('main').hidden = false;
          $('who').textContent = 'signed in as ' + me.name + ' (' + me.role + ')';
          if (me.role !== 'runner') {
            const jobs = await (await fetch('/v1/jobs')).json();
            $('jobs').innerHTML = '<tr><th>id</th><th>name</th><th>state</th><th>progress</th></tr>' + jobs.jobs.map((j) =>
              '<tr><td>' + esc(j.job_id) + '</td><td>' + esc(j.name) + '</td><td>' + esc(j.state) + '</td><td>' + Math.round(j.progress * 100) + '%</td></tr>').join('');
          }
          const events = new EventSource('/v1/events');
          events.onmessage = events.onerror = null;
          ['job', 'unit', 'copy', 'runner'].forEach((k) => events.addEventListener(k, (e) => { $('events').textContent = k + ' ' + e.data + '\\n' + $('events').textContent.slice(0, 5000); }));
        }
        $('signin').onsubmit = async (e) => {
          e.preventDefault();
          const r = await fetch('/v1/session', {method: 'POST', headers: {'content-type': 'application/json'}, body: JSON.stringify({token: $('token').value})});
          if (r.ok) show(); else alert('sign-in failed');
        };
        show();
        </script></body></html>
        """
}
