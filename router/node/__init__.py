"""The node runner: a Crossbar node with Switchboard's config and personality (process, launch,
workers), its supervisor, its dev secrets, and the `switchboard` command line (cli)."""
