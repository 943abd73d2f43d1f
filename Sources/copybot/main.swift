print("copybot")
