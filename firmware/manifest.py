package("taktnode")
module("main.py")
