"""Administration subcommands of `taktline cloud` (the plain command serves).

`taktline cloud dead-letters ...`, `registry ...` and `history ...` work on the cloud's database
(`--db`), beside a running cloud or without one: each module has `configure(parser)` and
`run(args)`, wired as subcommands by `cloud.cli`.
"""

#: name -> (module with configure/run, one-line help)
COMMANDS: dict[str, tuple[str, str]] = {
    "dead-letters": (
        "cloud.admin.dead_letters",
        "list, show and replay dead letters (after the registry or the cloud was fixed)",
    ),
    "registry": ("cloud.admin.registry", "load the device registry into the cloud's database"),
    "history": (
        "cloud.admin.history",
        "the status as the cloud knew it at a past moment or log position (time travel)",
    ),
    "devices": (
        "cloud.identity.cli",
        "the plant CA: make it, provision and revoke devices (certificate, CRL, broker rules), "
        "list expiry dates",
    ),
}
