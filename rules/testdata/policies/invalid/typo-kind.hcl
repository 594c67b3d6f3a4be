listner "x" {} # ERROR: Did you mean "listener"? Known check kinds: accepting,
