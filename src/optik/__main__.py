from optik.cli.common import entry_point

entry_point()
