// passkey.js: the passkey ceremonies of the hosted pages, as progressive
// enhancement. Without this script (or without WebAuthn in the browser)
// the passkey buttons stay hidden and every other form works as before.
// Served from /assets/passkey.js: the pages' CSP allows scripts from this
// origin only, so nothing here is inline.
(function () {
	"use strict";
	if (!window.PublicKeyCredential || !navigator.credentials) {
		return;
	}

	function toBytes(s) {
		var b64 = s.replace(/-/g, "+").replace(/_/g, "/");
		while (b64.length % 4) {
			b64 += "=";
		}
		var bin = atob(b64);
		var out = new Uint8Array(bin.length);
		for (var i = 0; i < bin.length; i++) {
			out[i] = bin.charCodeAt(i);
		}
		return out.buffer;
	}

	function toB64(buf) {
		var bytes = new Uint8Array(buf);
		var bin = "";
		for (var i = 0; i < bytes.length; i++) {
			bin += String.fromCharCode(bytes[i]);
		}
		return btoa(bin).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
	}

	function descriptors(list) {
		return (list || []).map(function (d) {
			return Object.assign({}, d, { id: toBytes(d.id) });
		});
	}

	function creationOptions(pk) {
		var o = Object.assign({}, pk);
		o.challenge = toBytes(pk.challenge);
		o.user = Object.assign({}, pk.user, { id: toBytes(pk.user.id) });
		o.excludeCredentials = descriptors(pk.excludeCredentials);
		return o;
	}

	function requestOptions(pk) {
		var o = Object.assign({}, pk);
		o.challenge = toBytes(pk.challenge);
		if (pk.allowCredentials) {
			o.allowCredentials = descriptors(pk.allowCredentials);
		}
		return o;
	}

	// credentialJSON is the credential's toJSON(), made by hand where the
	// browser has none.
	function credentialJSON(c) {
		if (typeof c.toJSON === "function") {
			return c.toJSON();
		}
		var r = c.response;
		var out = {
			id: c.id,
			rawId: toB64(c.rawId),
			type: c.type,
			authenticatorAttachment: c.authenticatorAttachment || undefined,
			clientExtensionResults: c.getClientExtensionResults ? c.getClientExtensionResults() : {},
			response: { clientDataJSON: toB64(r.clientDataJSON) }
		};
		if (r.attestationObject) {
			out.response.attestationObject = toB64(r.attestationObject);
			if (r.getTransports) {
				out.response.transports = r.getTransports();
			}
		} else {
			out.response.authenticatorData = toB64(r.authenticatorData);
			out.response.signature = toB64(r.signature);
			if (r.userHandle) {
				out.response.userHandle = toB64(r.userHandle);
			}
		}
		return out;
	}

	// refusal is the server's refusal of a step, in the pages' words.
	function refusal(text) {
		var e = new Error(text);
		e.refusal = true;
		return e;
	}

	// post sends body to path as JSON and resolves with the answer. A
	// redirect means the page's session ended: reloading the page leads to
	// the sign-in, back to this page. An answer that is not the route's
	// JSON (an error page) is a failure without words of its own.
	function post(path, body) {
		return fetch(path, {
			method: "POST",
			credentials: "same-origin",
			redirect: "manual",
			headers: { "Content-Type": "application/json" },
			body: JSON.stringify(body || {})
		}).then(function (res) {
			if (res.type === "opaqueredirect") {
				window.location.reload();
				return new Promise(function () {});
			}
			if ((res.headers.get("Content-Type") || "").indexOf("application/json") !== 0) {
				throw new Error("status " + res.status);
			}
			return res.json().then(function (data) {
				if (!res.ok) {
					throw refusal(data.error);
				}
				return data;
			});
		});
	}

	// message is what the box's error says of e: the server's words for
	// its refusal; the page's for a ceremony the user or the authenticator
	// ended (cancelled, timed out, no passkey for this site); else the
	// page's words for a failure, never a browser's developer text.
	function message(e, error) {
		if (e && e.refusal && e.message) {
			return e.message;
		}
		if (e && (e.name === "NotAllowedError" || e.name === "AbortError")) {
			return error.getAttribute("data-cancelled");
		}
		return error.getAttribute("data-failed");
	}

	function setUp(box, run) {
		var button = box.querySelector("[data-passkey-start]");
		var error = box.querySelector("[data-passkey-error]");
		box.hidden = false;
		button.addEventListener("click", function () {
			button.disabled = true;
			error.hidden = true;
			run().then(function (data) {
				window.location.assign(data.location);
			}).catch(function (e) {
				error.textContent = message(e, error);
				error.hidden = false;
				button.disabled = false;
				button.focus(); // disabling it took the keyboard's focus away
			});
		});
	}

	function start() {
		var add = document.querySelector('[data-passkey="add"]');
		if (add) {
			setUp(add, function () {
				var name = add.querySelector("[data-passkey-name]");
				var pw = add.querySelector("[data-passkey-password]");
				var current = pw ? pw.value : "";
				if (pw) {
					pw.value = "";
				}
				return post("/account/passkeys/options", { current_password: current }).then(function (o) {
					return navigator.credentials.create({ publicKey: creationOptions(o.public_key) }).then(function (c) {
						return post("/account/passkeys", { ceremony: o.ceremony, name: name ? name.value : "", credential: credentialJSON(c) });
					});
				});
			});
		}
		var second = document.querySelector('[data-passkey="second-factor"]');
		if (second) {
			secondFactor(second);
		}
		var signIn = document.querySelector('[data-passkey="sign-in"]');
		if (signIn) {
			var back = document.querySelector('input[name="return_to"]');
			setUp(signIn, function () {
				return post("/sign-in/passkey/options").then(function (o) {
					return navigator.credentials.get({ publicKey: requestOptions(o.public_key) }).then(function (c) {
						return post("/sign-in/passkey", { ceremony: o.ceremony, return_to: back ? back.value : "", credential: credentialJSON(c) });
					});
				});
			});
		}
	}

	// The second step of a password sign-in, proved with a passkey.
	function secondFactor(box) {
		var token = box.getAttribute("data-mfa-token");
		var back = document.querySelector('input[name="return_to"]');
		setUp(box, function () {
			return post("/sign-in/mfa/passkey/options", { mfa_token: token }).then(function (o) {
				return navigator.credentials.get({ publicKey: requestOptions(o.public_key) }).then(function (c) {
					return post("/sign-in/mfa/passkey", { mfa_token: token, ceremony: o.ceremony, return_to: back ? back.value : "", credential: credentialJSON(c) });
				});
			});
		});
	}

	if (document.readyState === "loading") {
		document.addEventListener("DOMContentLoaded", start);
	} else {
		start();
	}
}());
