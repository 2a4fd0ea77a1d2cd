#!/usr/bin/python3
"""Test RTSP server: serves an MP4's H.264 track (no re-encode), once, on 127.0.0.1.

Run with Debian's /usr/bin/python3 (python3-gi + gir1.2-gst-rtsp-server-1.0).
Prints one line `READY port=<port> mount=<mount>` on stdout once listening.
Exits on SIGTERM/SIGINT, or when stdin closes (the parent died), so it never outlives a test.

No looping here: the TS helper (rtsp-server.ts) hands it a pre-looped copy of the clip (ffmpeg
-stream_loop, stream copy), so the server never seeks. It used to loop with a flushing segment seek
issued from the main loop plus a bus sync handler: roughly 1 connection in 50 on a loaded machine
then got a few hundred bytes and nothing more, and the tests waited 60-90 s for frames.
"""
import argparse
import os
import signal
import sys

import gi

gi.require_version("Gst", "1.0")
gi.require_version("GstRtspServer", "1.0")
from gi.repository import GLib, Gst, GstRtspServer  # noqa: E402


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--file", required=True, help="MP4 file with an H.264 video track")
    ap.add_argument("--port", type=int, default=0, help="TCP port (0 = ephemeral)")
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--mount", default="/clip")
    ap.add_argument("--user", default=None, help="require basic auth with --user/--password")
    ap.add_argument("--password", default=None)
    args = ap.parse_args()
    if not os.path.isfile(args.file):
        print(f"rtsp-server: no such file: {args.file}", file=sys.stderr)
        return 2

    Gst.init(None)
    loop = GLib.MainLoop()
    server = GstRtspServer.RTSPServer()
    server.set_address(args.host)
    server.set_service(str(args.port))

    factory = GstRtspServer.RTSPMediaFactory()
    location = args.file.replace("\\", "\\\\").replace('"', '\\"')
    factory.set_launch(
        f'( filesrc location="{location}" ! qtdemux name=d d.video_0 ! h264parse '
        "! rtph264pay name=pay0 pt=96 config-interval=-1 )"
    )
    factory.set_shared(False)

    if args.user is not None:
        auth = GstRtspServer.RTSPAuth()
        token = GstRtspServer.RTSPToken()
        token.set_string(GstRtspServer.RTSP_TOKEN_MEDIA_FACTORY_ROLE, "user")
        auth.add_basic(GstRtspServer.RTSPAuth.make_basic(args.user, args.password or ""), token)
        server.set_auth(auth)
        perms = GstRtspServer.RTSPPermissions()
        perms.add_permission_for_role("user", GstRtspServer.RTSP_PERM_MEDIA_FACTORY_ACCESS, True)
        perms.add_permission_for_role("user", GstRtspServer.RTSP_PERM_MEDIA_FACTORY_CONSTRUCT, True)
        factory.set_permissions(perms)

    server.get_mount_points().add_factory(args.mount, factory)
    if server.attach(None) == 0:
        print(f"rtsp-server: cannot listen on {args.host}:{args.port}", file=sys.stderr)
        return 3

    def quit_loop(*_a):
        loop.quit()
        return False

    GLib.unix_signal_add(GLib.PRIORITY_DEFAULT, signal.SIGTERM, quit_loop)
    GLib.unix_signal_add(GLib.PRIORITY_DEFAULT, signal.SIGINT, quit_loop)
    GLib.io_add_watch(GLib.IOChannel.unix_new(sys.stdin.fileno()),
                      GLib.PRIORITY_DEFAULT, GLib.IOCondition.HUP | GLib.IOCondition.IN, quit_loop)

    print(f"READY port={server.get_bound_port()} mount={args.mount}", flush=True)
    loop.run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
