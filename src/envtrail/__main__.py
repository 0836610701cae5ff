from envtrail.cli import main

main()
