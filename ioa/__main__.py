from ioa.cli import main

main()
