import CDNSDaemon

@main
enum CDNSMain {
    static func main() async {
        MemoryTuning.limitArenas()
        await CDNSCommand.main()
    }
}
