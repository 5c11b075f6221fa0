from markbook.cli import main

main()
