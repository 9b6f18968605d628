from healthbrain.cli import main

main()
