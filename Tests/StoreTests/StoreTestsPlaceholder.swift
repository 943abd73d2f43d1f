// Keeps the StoreTests target buildable on this branch; the real tests live on their own branch.
import Testing
